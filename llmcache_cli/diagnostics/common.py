"""Small pieces the reports share: key display, namespaces, TTL units, per-namespace tallies."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from heapq import heappush, heappushpop
from typing import TYPE_CHECKING, Any

from llmcache_cli.keys import INTERNAL_PREFIX, SEPARATOR, cache_data_type, key_text

if TYPE_CHECKING:
    from llmcache_cli.client import RedisHandle

INTERNAL_NAMESPACE = "llmcache (internal)"  # llmcache's own bookkeeping keys (llmcache:...)
NO_NAMESPACE = "(no namespace)"  # keys without a ':'
OTHER_NAMESPACES = "(other namespaces)"  # what does not fit under MAX_NAMESPACES names
MAX_NAMESPACES = 1000  # keeps client memory bounded on a keyspace of random prefixes

_INTERNAL = INTERNAL_PREFIX.rstrip(SEPARATOR).encode()
_SEP = SEPARATOR.encode()


display_key = key_text  # a key as text; bytes that are not UTF-8 are shown as \x.. escapes


def namespace_bytes(key: bytes) -> bytes:
    """The first segment of a key (the whole key when it has no ':')."""
    return key.split(_SEP, 1)[0] if _SEP in key else b""


def namespace_label(prefix: bytes) -> str:
    """How a namespace is shown: its name, or one of the labels above."""
    if prefix == _INTERNAL:
        return INTERNAL_NAMESPACE
    if not prefix:
        return NO_NAMESPACE
    return display_key(prefix)


def is_internal_label(label: str) -> bool:
    return label == INTERNAL_NAMESPACE


def data_type_of_label(label: str, cache_namespaces: Collection[str] = ()) -> str | None:
    """The data type of a namespace label; None for llmcache's bookkeeping and for every
    namespace that is not the cache's (``keys.cache_data_type``)."""
    if label in (INTERNAL_NAMESPACE, NO_NAMESPACE, OTHER_NAMESPACES):
        return None
    return cache_data_type(label, cache_namespaces)


def ttl_seconds(pttl_ms: int) -> int | None:
    """Remaining TTL in whole seconds, rounded as Redis's TTL command does; None: no TTL."""
    if pttl_ms < 0:
        return None
    return (pttl_ms + 500) // 1000


def pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


@dataclass(frozen=True)
class NamespaceUsage:
    """Keys, memory and keys without TTL of one namespace (estimates when ``scale`` > 1)."""

    namespace: str
    data_type: str | None  # None for the internal / no-namespace / overflow rows
    keys: int
    memory_bytes: int
    no_ttl_keys: int

    @property
    def internal(self) -> bool:
        return is_internal_label(self.namespace)

    @property
    def kind(self) -> str:
        """ "cache" (a namespace of cache entries), "bookkeeping" (llmcache's own) or "other"."""
        return "bookkeeping" if self.internal else "cache" if self.data_type else "other"

    @property
    def no_ttl_pct(self) -> float | None:
        return pct(self.no_ttl_keys, self.keys)


class Top:
    """The ``n`` largest of the tuples offered, each ``(figure, key, ...)``. Ties at the cut go
    by key, so the result is the same whatever order the items come in (a cluster's primaries
    hand their batches over in any order). ``floor``: the smallest figure that can still get in
    (-1 until ``n`` are held): callers skip what is below it without building a tuple."""

    __slots__ = ("floor", "heap", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self.heap: list[tuple[Any, ...]] = []  # smallest on top
        self.floor = -1 if n else 1 << 62  # n = 0: nothing gets in

    def offer(self, item: tuple[Any, ...]) -> None:
        heap = self.heap
        if len(heap) < self.n:
            heappush(heap, item)
        elif item > heap[0]:
            heappushpop(heap, item)
        else:
            return
        if len(heap) >= self.n:
            self.floor = heap[0][0]

    def held_keys(self) -> list[bytes]:
        return [item[1] for item in self.heap]

    def largest(self) -> list[tuple[Any, ...]]:
        """Largest first; equal figures by key."""
        return sorted(self.heap, key=lambda item: (-item[0], item[1]))


class NamespaceTally:
    """Running totals per namespace, at most ``limit`` names (the rest fold into one row)."""

    def __init__(self, limit: int = MAX_NAMESPACES, watch: bytes | None = None) -> None:
        self.limit = limit
        self.counts: dict[bytes, list[int]] = {}  # prefix -> [keys, memory, keys without TTL]
        self.overflow = [0, 0, 0]
        # Keys starting with ``watch`` (inside the internal namespace) seen on the way, at most
        # ``limit`` of them: the dashboard's counter hashes, so a full scan needs no second SCAN.
        self.watch = watch
        self.watched: list[bytes] = []
        self.watched_overflow = False

    def add(self, key: bytes, memory: int, no_ttl: bool = False) -> None:
        self.add_batch([key], [memory], [-1 if no_ttl else 0])

    def add_batch(
        self, keys: Sequence[bytes], memories: Sequence[Any], pttls: Sequence[Any] | None = None
    ) -> int:
        """Count each key whose MEMORY USAGE (and PTTL) reply says it exists; return how many
        were skipped because they vanished (nil, -2, or an error reply)."""
        counts, overflow, limit, watch = self.counts, self.overflow, self.limit, self.watch
        skipped = 0
        for key, memory, pttl in zip(
            keys, memories, pttls if pttls is not None else [0] * len(keys), strict=True
        ):
            if memory.__class__ is not int or pttl.__class__ is not int or pttl == -2:
                skipped += 1  # a snapshot's expired key (-2) too
                continue
            head, sep, _ = key.partition(_SEP)
            prefix = head if sep else b""
            row = counts.get(prefix)
            if row is None:
                row = overflow if len(counts) >= limit else counts.setdefault(prefix, [0, 0, 0])
            if watch is not None and prefix == _INTERNAL and key.startswith(watch):
                self._see(key)
            row[0] += 1
            row[1] += memory
            if pttl == -1:
                row[2] += 1
        return skipped

    def _see(self, key: bytes) -> None:
        if len(self.watched) < self.limit:
            self.watched.append(key)
        else:
            self.watched_overflow = True

    def merge(self, other: NamespaceTally, scale: float = 1.0) -> None:
        """Add ``other``'s totals, each multiplied by ``scale`` (a sample's extrapolation)."""
        for prefix, (keys, memory, no_ttl) in other.counts.items():
            row = self.counts.get(prefix)
            if row is None:
                row = (
                    self.overflow
                    if len(self.counts) >= self.limit
                    else self.counts.setdefault(prefix, [0, 0, 0])
                )
            row[0] += round(keys * scale)
            row[1] += round(memory * scale)
            row[2] += round(no_ttl * scale)
        for i, value in enumerate(other.overflow):
            self.overflow[i] += round(value * scale)
        for key in other.watched:
            self._see(key)
        self.watched_overflow = self.watched_overflow or other.watched_overflow

    @property
    def keys(self) -> int:
        return sum(row[0] for row in self.counts.values()) + self.overflow[0]

    @property
    def memory_bytes(self) -> int:
        return sum(row[1] for row in self.counts.values()) + self.overflow[1]

    def rows(self, cache_namespaces: Collection[str] = ()) -> tuple[NamespaceUsage, ...]:
        """Largest memory first."""
        out = []
        for prefix, (keys, memory, no_ttl) in self.counts.items():
            label = namespace_label(prefix)
            data_type = data_type_of_label(label, cache_namespaces)
            out.append(NamespaceUsage(label, data_type, keys, memory, no_ttl))
        if self.overflow[0]:
            keys, memory, no_ttl = self.overflow
            out.append(NamespaceUsage(OTHER_NAMESPACES, None, keys, memory, no_ttl))
        out.sort(key=lambda r: (-r.memory_bytes, r.namespace))
        return tuple(out)


@dataclass(frozen=True)
class KeyFacts:
    type: str  # "none" when the key is gone
    pttl_ms: int  # -1 no TTL, -2 gone


def describe_keys(handle: RedisHandle, keys: Sequence[bytes]) -> dict[bytes, KeyFacts]:
    """TYPE and PTTL of a few keys (the ones a report lists), one pipeline routed by the client
    (by slot in a cluster)."""
    if not keys:
        return {}
    with handle.translated():
        pipe = handle.client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
            pipe.pttl(key)
        replies = pipe.execute(raise_on_error=False)
    out = {}
    for i, key in enumerate(keys):
        type_, pttl = replies[2 * i], replies[2 * i + 1]
        gone = pttl == -2 or not isinstance(pttl, int)
        handle.count_key_lookups(key, *((0, 2) if gone else (2, 0)))  # TYPE and PTTL
        name = (
            type_.decode() if isinstance(type_, bytes) else str(type_) if isinstance(type_, str) else "none"
        )
        out[key] = KeyFacts(name, pttl if isinstance(pttl, int) else -2)
    return out


@dataclass(frozen=True)
class Breakdown:
    exact: bool  # every key was measured (False: extrapolated from a sample)
    scanned: int  # keys measured
    namespaces: tuple[NamespaceUsage, ...]
    counter_keys: tuple[bytes, ...] | None  # the counter hashes met (None: not all could be kept)
    lookups: tuple[int, int] = (0, 0)  # (hits, misses) Redis counted for the PTTLs
    method: str = "pipeline"  # how MEMORY USAGE and PTTL were read: "script", "pipeline" (per_key)
