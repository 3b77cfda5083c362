"""The library's live counters (docs/design.md, "The library"): one hash per namespace,
``llmcache:stats:<ns>``.

Two ways to find them: ``SCAN MATCH llmcache:stats:*`` on every primary (exact; it walks the
whole keyspace on the server, about 0.8 s per million keys), or looking up a list of candidate
namespaces by name (fast; used by the sampled dashboard, with the data types and the namespaces
the sample saw). Fields that are missing or not numbers count as 0; a key of another type at
that name is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from llmcache_cli.client import RedisHandle
from llmcache_cli.diagnostics.own_reads import pttl_lookups
from llmcache_cli.keys import InvalidKeyPart, escape_glob, stats_key
from llmcache_cli.scan import KEY, KeyCommands, each_node, scan_batches

STATS_PREFIX = stats_key("x")[:-1].encode()  # b"llmcache:stats:"
_HASH_AND_TTL = KeyCommands(("HGETALL", KEY), ("PTTL", KEY))


@dataclass(frozen=True)
class LLMCounters:
    namespace: str
    hits: int
    misses: int
    cost_spent_usd: float
    cost_saved_usd: float
    time_saved_ms: float
    near_hits: int = 0  # of the hits, those the library's near cache served from memory

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups as a fraction; None when there were neither."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass(frozen=True)
class LLMSummary:
    total: LLMCounters  # namespace "all"
    namespaces: tuple[LLMCounters, ...]  # by namespace name
    exact: bool  # found by a full SCAN (False: looked up by candidate names)
    hashes_without_ttl: int  # counter hashes with no TTL (they are meant to live forever)
    lookups: tuple[int, int] = (0, 0)  # (hits, misses) Redis counted for these reads


def _number(raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return 0.0
    return value if value == value and abs(value) != float("inf") else 0.0


def _as_mapping(reply: Any) -> Mapping[bytes, Any] | None:
    if isinstance(reply, Mapping):
        return reply
    if isinstance(reply, list) and len(reply) % 2 == 0:
        return dict(zip(reply[::2], reply[1::2], strict=True))
    return None  # an error reply (WRONGTYPE: not a hash)


def counters_from_hash(namespace: str, fields: Mapping[bytes, Any]) -> LLMCounters:
    get = {k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k): v for k, v in fields.items()}
    return LLMCounters(
        namespace=namespace,
        hits=int(_number(get.get("hits"))),
        misses=int(_number(get.get("misses"))),
        cost_spent_usd=_number(get.get("cost_spent_usd")),
        cost_saved_usd=_number(get.get("cost_saved_usd")),
        time_saved_ms=_number(get.get("time_saved_ms")),
        near_hits=int(_number(get.get("near_hits"))),
    )


def total_of(rows: Sequence[LLMCounters]) -> LLMCounters:
    return LLMCounters(
        namespace="all",
        hits=sum(r.hits for r in rows),
        misses=sum(r.misses for r in rows),
        cost_spent_usd=sum(r.cost_spent_usd for r in rows),
        cost_saved_usd=sum(r.cost_saved_usd for r in rows),
        time_saved_ms=sum(r.time_saved_ms for r in rows),
        near_hits=sum(r.near_hits for r in rows),
    )


class _Collector:
    def __init__(self) -> None:
        self.rows: dict[str, list[LLMCounters]] = {}
        self.without_ttl = 0
        self.lookups = (0, 0)  # also counted on the handle (own_reads)

    def looked_up(self, hits: int, misses: int) -> tuple[int, int]:
        self.lookups = (self.lookups[0] + hits, self.lookups[1] + misses)
        return hits, misses

    def add(self, key: bytes, hash_reply: Any, pttl: Any) -> None:
        if not key.startswith(STATS_PREFIX):
            return
        namespace = key[len(STATS_PREFIX) :].decode("utf-8", "replace")
        fields = _as_mapping(hash_reply)
        if not namespace or ":" in namespace or not fields:
            return  # not one of ours, not a hash, or gone
        self.rows.setdefault(namespace, []).append(counters_from_hash(namespace, fields))
        if pttl == -1:
            self.without_ttl += 1

    def summary(self, exact: bool) -> LLMSummary:
        rows = tuple(replace(total_of(parts), namespace=name) for name, parts in sorted(self.rows.items()))
        return LLMSummary(total_of(rows), rows, exact, self.without_ttl, self.lookups)


def scan_counters(handle: RedisHandle) -> LLMSummary:
    """Every counter hash, found with SCAN MATCH on every primary."""
    collector = _Collector()
    match = escape_glob(STATS_PREFIX.decode()) + "*"
    with each_node(handle, lambda _, node: scan_batches(node, _HASH_AND_TTL, match=match)) as scan:
        for node, batch in scan:
            handle.count_lookups(node, *collector.looked_up(*_lookups(batch.replies[1::2])))
            for i, key in enumerate(batch.keys):
                collector.add(key, batch.replies[2 * i], batch.replies[2 * i + 1])
    return collector.summary(exact=True)


def lookup_counters(handle: RedisHandle, namespaces: Iterable[str]) -> LLMSummary:
    """The counter hashes of the given namespaces, looked up by name (one round trip)."""
    keys = []
    for name in sorted(set(namespaces)):
        try:
            keys.append(stats_key(name).encode())
        except InvalidKeyPart:
            continue
    return read_counters(handle, keys, exact=False)


def read_counters(handle: RedisHandle, keys: Sequence[bytes], exact: bool) -> LLMSummary:
    """The counter hashes at ``keys`` (found by a scan, or candidates), one round trip."""
    collector = _Collector()
    if keys:
        with handle.translated():
            pipe = handle.client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
                pipe.pttl(key)
            replies = pipe.execute(raise_on_error=False)
        for i, key in enumerate(keys):
            handle.count_key_lookups(key, *collector.looked_up(*_lookups([replies[2 * i + 1]])))
            collector.add(key, replies[2 * i], replies[2 * i + 1])
    return collector.summary(exact=exact)


def _lookups(pttls: Sequence[Any]) -> tuple[int, int]:
    """HGETALL and PTTL of each key: two lookups, hits when the key exists (PTTL is not -2)."""
    hits, misses = pttl_lookups(pttls)
    return 2 * hits, 2 * misses
