"""What changed between two dashboard reports: the rates ``stats --watch`` shows next to the
totals. A figure that went down (a counter reset, a restart) has no rate rather than a negative
one; the memory change is signed."""

from __future__ import annotations

from dataclasses import dataclass

from llmcache_cli.diagnostics.dashboard import StatsReport


@dataclass(frozen=True)
class Rates:
    seconds: float  # between the two reports
    keyspace_hits_per_s: float | None
    keyspace_misses_per_s: float | None
    cache_hits_per_s: float | None  # the library's hits: answers served from the cache
    llm_calls_per_s: float | None  # the library's misses: each one an LLM call
    saved_usd_per_min: float | None
    spent_usd_per_min: float | None
    evictions_per_s: float | None
    expirations_per_s: float | None
    memory_change_bytes: int


def _per(before: float, after: float, seconds: float, scale: float = 1.0) -> float | None:
    if after < before or seconds <= 0:
        return None
    return (after - before) / seconds * scale


def rates_between(before: StatsReport, after: StatsReport, seconds: float) -> Rates:
    """The rates from ``before`` to ``after``, taken ``seconds`` apart."""
    k0, k1 = before.keyspace, after.keyspace
    l0, l1 = before.llm.total, after.llm.total
    return Rates(
        seconds=seconds,
        keyspace_hits_per_s=_per(k0.hits, k1.hits, seconds),
        keyspace_misses_per_s=_per(k0.misses, k1.misses, seconds),
        cache_hits_per_s=_per(l0.hits, l1.hits, seconds),
        llm_calls_per_s=_per(l0.misses, l1.misses, seconds),
        saved_usd_per_min=_per(l0.cost_saved_usd, l1.cost_saved_usd, seconds, 60.0),
        spent_usd_per_min=_per(l0.cost_spent_usd, l1.cost_spent_usd, seconds, 60.0),
        evictions_per_s=_per(k0.evicted_keys, k1.evicted_keys, seconds),
        expirations_per_s=_per(k0.expired_keys, k1.expired_keys, seconds),
        memory_change_bytes=after.server.used_memory_bytes - before.server.used_memory_bytes,
    )
