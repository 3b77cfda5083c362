"""The near cache: hits from process memory, dropped the moment Redis says the key changed.

Opt-in (``CacheService(near_cache=N)``). Entries are the decoded answers of keys read from
Redis, kept in LRU order within ``max_entries`` and ``max_bytes`` (the answer's size as Python
objects, measured once when it is stored), each until the key's own expiry in Redis (its PTTL,
read in the same round trip). A near hit returns the same object every time: treat it as
read-only.

Validity comes from Redis's server-assisted client-side caching: one connection per server (per
primary in a cluster) says ``HELLO 3`` and ``CLIENT TRACKING ON BCAST PREFIX <namespace>:`` for
every namespace the service reads, and Redis pushes ``invalidate`` with the keys whenever one of
them is written, deleted, expires or is evicted (``null`` for FLUSHDB/FLUSHALL). The tracker
(``tracking.py``) feeds those pushes here.

The race every client-side cache has is closed with sequence numbers: a read remembers
``seq`` when it is sent, and its answer is stored only if no invalidation of that key (and no
flush) was seen since. Until tracking is confirmed for a namespace, and whenever the tracking
connection is lost or the breaker opens, nothing is stored or served.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from typing import Any

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
ENTRY_OVERHEAD = 240  # the LRU slot, its tuple and float, beyond the key and the value
_FORGET_AT = 200_000  # invalidated keys remembered for in-flight reads, at most
MISSING = object()
_ATOMS = (str, bytes, int, float, bool, type(None))


def deep_size(value: Any) -> int:
    """Bytes of ``value`` as Python objects (a decoded JSON answer: dicts, lists, atoms)."""
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        for k, v in value.items():
            size += sys.getsizeof(k) + (sys.getsizeof(v) if isinstance(v, _ATOMS) else deep_size(v))
    elif isinstance(value, (list, tuple)):
        for item in value:
            size += sys.getsizeof(item) if isinstance(item, _ATOMS) else deep_size(item)
    return size


class NearCache:
    def __init__(self, max_entries: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_entries < 1:
            raise ValueError("near_cache must be a number of entries >= 1")
        if max_bytes < 1:
            raise ValueError("near_cache_bytes must be >= 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.seq = 0  # invalidation pushes and flushes seen
        self.namespaces: set[str] = set()  # tracked: their keys may be stored
        self._tracked_since: dict[str, int] = {}
        self.ready = False  # tracking is up on every node
        self._entries: OrderedDict[str, tuple[Any, float, int]] = OrderedDict()
        self._invalidated: dict[str, int] = {}
        self._flushed_at = 0  # seq of the last flush
        self.stats = {"stored": 0, "invalidated": 0, "expired": 0, "evicted": 0, "flushes": 0}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any:
        """The stored answer, or ``MISSING``; an entry past its expiry is dropped."""
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        value, expires_at, _ = entry
        if time.monotonic() >= expires_at:
            self._drop(key)
            self.stats["expired"] += 1
            return MISSING
        self._entries.move_to_end(key)
        return value

    def track(self, namespace: str) -> None:
        """Tracking of ``namespace`` is confirmed: reads sent from now on may be stored."""
        self.seq += 1
        self._tracked_since[namespace] = self.seq
        self.namespaces.add(namespace)

    def put(self, key: str, namespace: str, value: Any, pttl_ms: Any, sent_seq: int) -> bool:
        """Store an answer read by a request sent at ``sent_seq``, unless its namespace was not
        tracked yet, the key (or everything) was invalidated since, tracking is down, or the
        key has no expiry left."""
        if (
            not self.ready
            or sent_seq < self._flushed_at
            or self._tracked_since.get(namespace, sent_seq + 1) > sent_seq
            or self._invalidated.get(key, -1) > sent_seq
        ):
            return False
        if not isinstance(pttl_ms, int) or pttl_ms <= 0:
            return False  # gone already, or no TTL (-1): an entry must not outlive Redis's
        size = deep_size(value) + sys.getsizeof(key) + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (value, time.monotonic() + pttl_ms / 1000.0, size)
        self.bytes += size
        self.stats["stored"] += 1
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped
            self.stats["evicted"] += 1
        return True

    def invalidate(self, keys: list[str] | None) -> None:
        """A push from Redis: these keys changed (None: the whole database was flushed)."""
        self.seq += 1
        if keys is None:
            self.flush()
            return
        if len(self._invalidated) > _FORGET_AT:
            self._invalidated.clear()
            self._flushed_at = self.seq  # reads in flight now cannot be checked: refuse them
        for key in keys:
            self._invalidated[key] = self.seq
            if key in self._entries:
                self._drop(key)
                self.stats["invalidated"] += 1

    def flush(self) -> None:
        """Forget everything, and refuse the answers of reads already in flight."""
        self.seq += 1
        self._flushed_at = self.seq
        self._entries.clear()
        self._invalidated.clear()
        self.bytes = 0
        self.stats["flushes"] += 1

    def down(self) -> None:
        """Tracking is lost (connection dropped, breaker open, reconnect): empty and bypass."""
        self.ready = False
        self.namespaces.clear()
        self._tracked_since.clear()
        self.flush()

    def _drop(self, key: str) -> None:
        _, _, size = self._entries.pop(key)
        self.bytes -= size
