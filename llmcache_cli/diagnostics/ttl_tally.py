"""The running totals behind ``llmcache ttl``: buckets, per-data-type TTLs, the keys to list."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from llmcache_cli.config import DATA_TYPES
from llmcache_cli.diagnostics.common import (
    INTERNAL_NAMESPACE,
    KeyFacts,
    Top,
    display_key,
    namespace_bytes,
    namespace_label,
    ttl_seconds,
)
from llmcache_cli.keys import INTERNAL_PREFIX, cache_data_type, parse_key
from llmcache_cli.ttl_policy import TTLPolicy

OTHER = "other"  # keys outside the cache's namespaces (and outside the key schema)
BOOKKEEPING = INTERNAL_NAMESPACE  # llmcache's own keys (llmcache:...)
# (upper bound in seconds, label); a TTL falls in the first bucket whose bound it is under.
BUCKETS: tuple[tuple[int | None, str], ...] = (
    (60, "<1 min"),
    (900, "<15 min"),
    (3600, "<1 h"),
    (86400, "<1 day"),
    (604800, "<1 week"),
    (None, "longer"),
)
NO_TTL_LABEL = "no TTL"
_BOUNDS_MS = [bound * 1000 for bound, _ in BUCKETS if bound is not None]
_MAX_CACHE = 50_000  # key heads (namespace, entity, identifier) whose classification is kept
_INTERNAL_PREFIX = INTERNAL_PREFIX.encode()


def bucket_index(pttl_ms: int) -> int:
    """Index into BUCKETS, or len(BUCKETS) for "no TTL"."""
    if pttl_ms < 0:
        return len(BUCKETS)
    return bisect_right(_BOUNDS_MS, pttl_ms)


@dataclass(frozen=True)
class TypeTTL:
    group: str  # a data type, INTERNAL_NAMESPACE or OUTSIDE_SCHEMA
    keys: int
    no_ttl: int
    min_ttl_seconds: int | None  # over the keys that have a TTL
    median_ttl_seconds: int | None
    max_ttl_seconds: int | None
    policy_max_ttl_seconds: int | None  # the policy's longest TTL for the type (None: n/a)
    over_policy: int

    @property
    def data_type(self) -> str | None:
        return self.group if self.group in DATA_TYPES else None


@dataclass(frozen=True)
class KeyGroup:
    """Keys reported apart, never judged against the policy: llmcache's bookkeeping, other keys."""

    keys: int
    memory_bytes: int
    no_ttl: int


@dataclass(frozen=True)
class NoTTLKey:
    key: str
    namespace: str
    type: str
    memory_bytes: int


@dataclass(frozen=True)
class OverPolicyKey:
    key: str
    data_type: str
    symbol: str | None
    ttl_seconds: int
    policy_max_ttl_seconds: int  # for this key's symbol (volatile symbols get less)
    memory_bytes: int


class _Group:
    __slots__ = ("keys", "memory", "no_ttl", "over", "seconds")

    def __init__(self) -> None:
        self.keys = 0
        self.memory = 0
        self.no_ttl = 0
        self.over = 0
        self.seconds: dict[int, int] = {}  # keys by remaining TTL in whole seconds (ttl_seconds)


class _Head(NamedTuple):
    group: _Group
    data_type: str | None  # None: not a cache key (bookkeeping or other), never judged
    symbol: str | None
    limit_ms: int | None  # the policy's longest TTL for this data type and symbol


class TTLTally:
    def __init__(
        self,
        policy: TTLPolicy,
        stock_entities: Collection[str],
        limit: int,
        cache_namespaces: Collection[str] = (),
    ) -> None:
        self.policy = policy
        self.entities = frozenset(stock_entities)
        self.cache_namespaces = frozenset(cache_namespaces)
        self.limit = limit
        self.bucket_keys = [0] * (len(BUCKETS) + 1)  # the buckets, then "no TTL"
        self.bucket_memory = [0] * (len(BUCKETS) + 1)
        self.groups: dict[str, _Group] = {}
        self.vanished = 0
        self.over_policy = 0
        self.no_ttl_keys = Top(limit)  # (memory, key)
        self.over_keys = Top(limit)  # (ms over, key, data type, symbol, pttl, the limit in s, memory)
        self._heads: dict[bytes, _Head] = {}  # by key head (see _classify)

    def _group(self, name: str) -> _Group:
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = _Group()
        return group

    def _classify(self, head: bytes, key: bytes) -> _Head:
        """Group, data type, symbol and policy maximum of ``key``. Keys of four segments or
        more are classified by their head (all but the last segment), which holds namespace,
        entity and identifier, and the result is kept for the next keys with that head."""
        cacheable = head.count(b":") >= 2
        whole = head if cacheable else key
        internal = whole.startswith(_INTERNAL_PREFIX)
        parsed = None if internal else parse_key(whole)
        data_type = None if parsed is None else cache_data_type(parsed.namespace, self.cache_namespaces)
        if parsed is None or data_type is None:
            info = _Head(self._group(BOOKKEEPING if internal else OTHER), None, None, None)
        else:
            symbol = parsed.symbol(self.entities)
            limit_ms = self.policy.max_ttl(data_type, symbol) * 1000
            info = _Head(self._group(data_type), data_type, symbol, limit_ms)
        if cacheable:
            if len(self._heads) >= _MAX_CACHE:
                self._heads.clear()
            self._heads[head] = info
        return info

    def add_batch(self, keys: Sequence[bytes], pttls: Sequence[Any], memories: Sequence[Any]) -> None:
        """Count one batch: PTTL and MEMORY USAGE replies, in key order. The hot loop of
        ``llmcache ttl``: one pass, locals only, each key's head classified once per run."""
        heads, classify, bounds = self._heads, self._classify, _BOUNDS_MS
        bucket_keys, bucket_memory, no_ttl_index = self.bucket_keys, self.bucket_memory, len(BUCKETS)
        no_ttl, over = self.no_ttl_keys, self.over_keys
        vanished = over_policy = 0
        for key, pttl, memory in zip(keys, pttls, memories, strict=True):
            if pttl.__class__ is not int or memory.__class__ is not int or pttl == -2:
                vanished += 1  # gone between SCAN and PTTL / MEMORY USAGE (or a per-key error)
                continue
            head = key.rpartition(b":")[0]  # namespace:entity:identifier[:...]
            info = heads.get(head)
            if info is None:
                info = classify(head, key)
            group = info.group
            group.keys += 1
            group.memory += memory
            if info.data_type is None:  # bookkeeping or other: counted apart, never judged
                if pttl == -1:
                    group.no_ttl += 1
                continue
            index = no_ttl_index if pttl < 0 else bisect_right(bounds, pttl)
            bucket_keys[index] += 1
            bucket_memory[index] += memory
            if pttl == -1:
                group.no_ttl += 1
                if memory >= no_ttl.floor:
                    no_ttl.offer((memory, key))
                continue
            second = (pttl + 500) // 1000  # ttl_seconds, inlined: the hot loop
            seconds = group.seconds
            seconds[second] = seconds.get(second, 0) + 1
            limit_ms = info.limit_ms
            if limit_ms is not None and pttl > limit_ms:
                group.over += 1
                over_policy += 1
                excess = pttl - limit_ms
                if excess >= over.floor:
                    over.offer(
                        (excess, key, info.data_type or "", info.symbol, pttl, limit_ms // 1000, memory)
                    )
        self.vanished += vanished
        self.over_policy += over_policy

    def apart(self, name: str) -> KeyGroup:
        """The bookkeeping (BOOKKEEPING) or other (OTHER) keys met."""
        group = self.groups.get(name) or _Group()
        return KeyGroup(group.keys, group.memory, group.no_ttl)

    @property
    def keys(self) -> int:
        return sum(group.keys for group in self.groups.values())

    def type_rows(self) -> tuple[TypeTTL, ...]:
        """The data types met (bookkeeping and other keys are reported apart)."""
        order = {name: i for i, name in enumerate(DATA_TYPES)}
        rows = []
        for name in sorted(set(self.groups) & set(DATA_TYPES), key=lambda n: order[n]):
            group = self.groups[name]
            low, median, high = _spread(group.seconds)
            rows.append(
                TypeTTL(
                    group=name,
                    keys=group.keys,
                    no_ttl=group.no_ttl,
                    min_ttl_seconds=low,
                    median_ttl_seconds=median,
                    max_ttl_seconds=high,
                    policy_max_ttl_seconds=self.policy.max_ttl(name),
                    over_policy=group.over,
                )
            )
        return tuple(rows)

    def no_ttl_rows(self, facts: Mapping[bytes, KeyFacts]) -> tuple[NoTTLKey, ...]:
        out = []
        for memory, key in self.no_ttl_keys.largest():
            fact = facts.get(key)
            if fact is None or fact.type == "none":
                continue  # gone since
            out.append(NoTTLKey(display_key(key), namespace_label(namespace_bytes(key)), fact.type, memory))
        return tuple(out)

    def over_rows(self) -> tuple[OverPolicyKey, ...]:
        out = []
        for _, key, data_type, symbol, pttl, max_seconds, memory in self.over_keys.largest():
            out.append(
                OverPolicyKey(
                    display_key(key), data_type, symbol, ttl_seconds(pttl) or 0, max_seconds, memory
                )
            )
        return tuple(out)


def _spread(seconds: Mapping[int, int]) -> tuple[int | None, int | None, int | None]:
    """(shortest, median, longest) remaining TTL in whole seconds of the keys counted in
    ``seconds`` (keys by TTL); the median of an even count is the mean of the middle two,
    rounded. All None for no keys."""
    if not seconds:
        return None, None, None
    order = sorted(seconds)
    n = sum(seconds.values())
    low_rank, high_rank = (n - 1) // 2, n // 2  # the middle one or two, counted from 0
    low = high = order[0]
    counted = 0
    for second in order:
        if counted <= low_rank:
            low = second
        counted += seconds[second]
        if counted > high_rank:
            high = second
            break
    return order[0], round((low + high) / 2), order[-1]
