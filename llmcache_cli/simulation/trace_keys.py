"""The keys of a trace being read: numbered in order of first appearance, with the symbol and
data type of their first record, and indexed by a hash of their bytes so that the numpy reader
(``trace_layout``) finds a block's known keys without Python work per line."""

from __future__ import annotations

import numpy as np

from llmcache_cli.keys import data_type_of
from llmcache_cli.simulation import trace_bytes as tb

MAX_FAST_KEY = 256  # longer keys are read by the plain reader
HASH_WORDS = np.random.default_rng(20250602).integers(1, 2**63, size=MAX_FAST_KEY // 8, dtype=np.uint64)


class KeyTable:
    """Key -> id, with the symbol and data type of its first record.

    Also an index for the fast reader (``find``, ``remember``): each key's bytes as words and
    a 64-bit hash of them, hashes sorted; a line's key is looked up by its hash and then
    checked word for word, so that a block of lines with known keys needs no Python per key.
    Keys added another way are simply not in the index (``find`` says -1)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.keys: list[str] = []
        self.symbol: list[str | None] = []
        self.dtype: list[str] = []
        self.fresh: dict[int, int] = {}  # keys decode_fast added from the block: id -> row
        self._hashes = np.zeros(0, dtype=np.uint64)  # sorted
        self._hash_ids = np.zeros(0, dtype=np.int64)  # the id of each hash
        self._length = np.zeros(0, dtype=np.int64)  # per id: the key's length in bytes, -1: not indexed
        self._words: list[np.ndarray] = []  # per place k: per id, the key's bytes 8k..8k+7 as a word

    def add(self, key: str, symbol: str | None, data_type: str) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.keys)
            self.keys.append(key)
            self.symbol.append(symbol)
            self.dtype.append(data_type_of(data_type))
        return found

    def find(
        self, words: np.ndarray, at: np.ndarray, length: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """For keys of ``length`` bytes at ``at`` (1..MAX_FAST_KEY): their ids in the index
        (-1: not there), their hashes, and their bytes as words (zero past the key)."""
        places = -(-int(length.max()) // 8)
        parts = tb.load_words(words, at, places)
        hashed = np.zeros(at.size, dtype=np.uint64)
        for k, part in enumerate(parts):
            part &= tb.LOW_MASK[np.clip(length - 8 * k, 0, 8)]
            hashed += part * HASH_WORDS[k]
        ids = np.full(at.size, -1, dtype=np.int64)
        if self._hashes.size:
            pos = np.minimum(np.searchsorted(self._hashes, hashed), self._hashes.size - 1)
            found = self._hash_ids[pos]
            same = (self._hashes[pos] == hashed) & (self._length[found] == length)
            # Past the longest key indexed, the lengths already differ.
            for k in range(min(places, len(self._words))):
                same &= self._words[k][found] == parts[k]
            ids[same] = found[same]
        return ids, hashed, parts

    def remember(
        self, ids: np.ndarray, hashed: np.ndarray, parts: list[np.ndarray], length: np.ndarray
    ) -> None:
        """Put keys already added (``ids``, distinct) in the index, from ``find``'s hashes and
        words. A hash the index already holds (another key: a collision) is left out."""
        size = len(self.keys)
        if self._length.size < size:
            capacity = max(size, 2 * self._length.size, 1024)
            self._length = np.concatenate([self._length, np.full(capacity - self._length.size, -1)])
            self._words = [np.concatenate([w, np.zeros(capacity - w.size, np.uint64)]) for w in self._words]
        while len(self._words) < len(parts):
            self._words.append(np.zeros(self._length.size, dtype=np.uint64))
        taken = np.zeros(ids.size, dtype=bool)
        if self._hashes.size:
            pos = np.minimum(np.searchsorted(self._hashes, hashed), self._hashes.size - 1)
            taken = self._hashes[pos] == hashed
        _, first = np.unique(hashed, return_index=True)
        new = np.zeros(ids.size, dtype=bool)
        new[first] = True
        new &= ~taken
        ids, hashed, length = ids[new], hashed[new], length[new]
        self._length[ids] = length
        for k, word in enumerate(self._words):
            word[ids] = parts[k][new] if k < len(parts) else 0
        order = np.argsort(hashed)
        at = np.searchsorted(self._hashes, hashed[order])
        self._hashes = np.insert(self._hashes, at, hashed[order])
        self._hash_ids = np.insert(self._hash_ids, at, ids[order])
