"""Cost and hit counters: in Redis per namespace (live, across processes) and in-process.

Redis: one hash per namespace, ``llmcache:stats:{namespace}`` (``keys.stats_key``), with the
fields ``keys.STATS_FIELDS``: ``hits`` and ``misses`` (HINCRBY), ``cost_spent_usd``,
``cost_saved_usd`` and ``time_saved_ms`` (HINCRBYFLOAT). The increments ride in the same round
trip as the cache operation they describe. Increments that are only known later (for example
the callers that shared another caller's LLM call) wait in ``PendingCounters`` and ride along
with the next round trip, or a short background flush.

In-process: ``CacheStats``, whose report counts a hit in the "without cache" totals at what it
would have cost (the entry's recorded cost), so savings are real rather than zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from llmcache_cli.keys import stats_key


@dataclass
class CounterDelta:
    hits: int = 0
    misses: int = 0
    near_hits: int = 0  # of the hits, those served from process memory
    cost_spent_usd: float = 0.0
    cost_saved_usd: float = 0.0
    time_saved_ms: float = 0.0

    def add(self, other: CounterDelta) -> None:
        self.hits += other.hits
        self.misses += other.misses
        self.near_hits += other.near_hits
        self.cost_spent_usd += other.cost_spent_usd
        self.cost_saved_usd += other.cost_saved_usd
        self.time_saved_ms += other.time_saved_ms

    def commands(self, namespace: str) -> Iterator[tuple[Any, ...]]:
        """The HINCRBY / HINCRBYFLOAT commands of this delta (nothing for zero fields)."""
        key = stats_key(namespace)
        for name in ("hits", "misses", "near_hits"):
            value = getattr(self, name)
            if value:
                yield ("HINCRBY", key, name, value)
        for name in ("cost_spent_usd", "cost_saved_usd", "time_saved_ms"):
            value = getattr(self, name)
            if value:
                yield ("HINCRBYFLOAT", key, name, repr(float(value)))


def time_saved(llm_latency_ms: float, cache_latency_ms: float) -> float:
    """What a hit saves in time: the entry's LLM latency minus the cache's own (not below 0)."""
    return max(0.0, llm_latency_ms - cache_latency_ms)


def hit_delta(
    cost_usd: float, llm_latency_ms: float, cache_latency_ms: float, count: int = 1
) -> CounterDelta:
    """A hit saves what the entry cost to make, and ``time_saved``."""
    saved_ms = time_saved(llm_latency_ms, cache_latency_ms)
    return CounterDelta(hits=count, cost_saved_usd=cost_usd * count, time_saved_ms=saved_ms * count)


class PendingCounters:
    """Increments not yet sent, summed per namespace. Bounded by the number of namespaces."""

    def __init__(self) -> None:
        self._deltas: dict[str, CounterDelta] = {}

    def __bool__(self) -> bool:
        return bool(self._deltas)

    def add(self, namespace: str, delta: CounterDelta) -> None:
        self._deltas.setdefault(namespace, CounterDelta()).add(delta)

    def add_hit(self, namespace: str, cost_usd: float, saved_ms: float, near: bool) -> None:
        """One hit (the hot path: no object made)."""
        delta = self._deltas.get(namespace)
        if delta is None:
            delta = self._deltas[namespace] = CounterDelta()
        delta.hits += 1
        delta.cost_saved_usd += cost_usd
        delta.time_saved_ms += saved_ms
        if near:
            delta.near_hits += 1

    def drain(self) -> list[tuple[Any, ...]]:
        """Take every pending increment as commands; they are not retried if the send fails."""
        deltas, self._deltas = self._deltas, {}
        return [cmd for ns, delta in sorted(deltas.items()) for cmd in delta.commands(ns)]


@dataclass
class CacheStats:
    """In-process figures since the service was made (or ``reset``).

    - a hit adds the entry's recorded cost and LLM latency to the "without cache" totals and
      only the cache's own latency to the "with cache" totals;
    - an LLM call made on a miss adds its cost and latency to both;
    - every cache round trip adds its latency to the "with cache" latency.
    """

    hits: int = 0  # near hits included
    misses: int = 0
    near_hits: int = 0  # hits served from the near cache, without a round trip
    errors: int = 0  # cache operations that failed or were skipped because Redis is down
    bypassed: int = 0  # decorated calls told to skip the cache
    cost_without_cache_usd: float = 0.0
    cost_with_cache_usd: float = 0.0
    latency_without_cache_ms: float = 0.0
    latency_with_cache_ms: float = 0.0
    by_namespace: dict[str, dict[str, int]] = field(default_factory=dict)

    def _bump(self, namespace: str, what: str) -> None:
        counts = self.by_namespace.get(namespace)
        if counts is None:
            counts = self.by_namespace[namespace] = {"hits": 0, "misses": 0, "near_hits": 0}
        counts[what] += 1

    def record_hit(
        self, namespace: str, cost_usd: float, llm_latency_ms: float, *, near: bool = False
    ) -> None:
        self.hits += 1
        self._bump(namespace, "hits")
        if near:
            self.near_hits += 1
            self._bump(namespace, "near_hits")
        self.cost_without_cache_usd += cost_usd
        self.latency_without_cache_ms += llm_latency_ms

    def undo_hit(self, namespace: str, cost_usd: float, llm_latency_ms: float) -> None:
        """Take back a hit that turned out unusable (e.g. stale inputs)."""
        self.hits -= 1
        self.by_namespace[namespace]["hits"] -= 1
        self.cost_without_cache_usd -= cost_usd
        self.latency_without_cache_ms -= llm_latency_ms

    def record_miss(self, namespace: str) -> None:
        self.misses += 1
        self._bump(namespace, "misses")

    def record_llm_call(self, cost_usd: float, latency_ms: float) -> None:
        self.cost_without_cache_usd += cost_usd
        self.cost_with_cache_usd += cost_usd
        self.latency_without_cache_ms += latency_ms
        self.latency_with_cache_ms += latency_ms

    def record_cache_latency(self, latency_ms: float) -> None:
        self.latency_with_cache_ms += latency_ms

    @property
    def requests(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups, a fraction; None when there were none."""
        return self.hits / self.requests if self.requests else None

    @property
    def savings_usd(self) -> float:
        return self.cost_without_cache_usd - self.cost_with_cache_usd

    @property
    def savings_pct(self) -> float | None:
        if not self.cost_without_cache_usd:
            return None
        return 100.0 * self.savings_usd / self.cost_without_cache_usd

    @property
    def time_saved_ms(self) -> float:
        return self.latency_without_cache_ms - self.latency_with_cache_ms

    @property
    def speedup(self) -> float | None:
        if not self.latency_with_cache_ms:
            return None
        return self.latency_without_cache_ms / self.latency_with_cache_ms

    def reset(self) -> None:
        fresh = CacheStats()
        for name in fresh.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "hits": self.hits,
            "misses": self.misses,
            "near_hits": self.near_hits,
            "hit_rate": self.hit_rate,
            "errors": self.errors,
            "bypassed": self.bypassed,
            "cost_without_cache_usd": self.cost_without_cache_usd,
            "cost_with_cache_usd": self.cost_with_cache_usd,
            "savings_usd": self.savings_usd,
            "savings_pct": self.savings_pct,
            "latency_without_cache_ms": self.latency_without_cache_ms,
            "latency_with_cache_ms": self.latency_with_cache_ms,
            "time_saved_ms": self.time_saved_ms,
            "speedup": self.speedup,
            "by_namespace": {ns: dict(c) for ns, c in sorted(self.by_namespace.items())},
        }

    def report(self) -> str:
        """For people. The cost lines add up as printed: savings is the difference of the two
        rounded costs (each rounded on its own, they could be a cent-fraction apart)."""

        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.1f}%"

        def count(n: int, word: str, many: str) -> str:
            return f"{n:,} {word if n == 1 else many}"

        rate = "n/a" if self.hit_rate is None else f"{self.hit_rate:.1%}"
        speedup = "n/a" if self.speedup is None else f"{self.speedup:.1f}x"
        without, with_cache = round(self.cost_without_cache_usd, 4), round(self.cost_with_cache_usd, 4)
        lines = [
            "Cache performance",
            f"  requests      {self.requests:,}  ({count(self.hits, 'hit', 'hits')}, "
            f"{count(self.misses, 'miss', 'misses')})",
            f"  hit rate      {rate}",
            f"  cache errors  {self.errors:,}",
            "Cost",
            f"  without cache ${without:.4f}",
            f"  with cache    ${with_cache:.4f}",
            f"  savings       ${without - with_cache:.4f} ({pct(self.savings_pct)})",
            "Latency",
            f"  without cache {self.latency_without_cache_ms:,.0f} ms",
            f"  with cache    {self.latency_with_cache_ms:,.0f} ms",
            f"  speedup       {speedup}",
        ]
        return "\n".join(lines)
