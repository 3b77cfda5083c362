"""Conditional invalidation: "did the input change significantly since the answer was made?"

Each checked field has a ``Threshold``:

- ``Threshold.relative(0.05)`` for ratios (P/E, debt ratio): significant when
  ``|new - old| / |old|`` is more than 5 %. From an old value of 0, any change is significant.
- ``Threshold.points(0.02)`` for growth rates and other percentages: significant when
  ``|new - old|`` is more than 0.02 *in the field's own unit*. With growth rates stored as
  fractions (0.12 = 12 %) that is 2 percentage points: 0.12 -> 0.15 is significant, 0.12 ->
  0.13 is not, whatever the relative change. (Store them as percents, 12.0, and use 2.0.)

A field present on one side only, or a non-numeric field whose value differs, is a
significant change; a field absent from both is not. "More than" is strict, with a tolerance
of 1e-9 so that 0.17 - 0.12 counts as exactly 5 points.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from llmcache_cli.cache.costs import measured_call, settle_usage
from llmcache_cli.cache.counters import CounterDelta, hit_delta
from llmcache_cli.cache.entries import Lookup
from llmcache_cli.cache.service import CacheService

log = logging.getLogger("llmcache_cli.cache")
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Threshold:
    kind: Literal["relative", "points"]
    value: float

    def __post_init__(self) -> None:
        if self.kind not in ("relative", "points"):
            raise ValueError(f"threshold kind must be 'relative' or 'points', got {self.kind!r}")
        if not self.value >= 0:
            raise ValueError("a threshold must be a number >= 0")

    @classmethod
    def relative(cls, fraction: float) -> Threshold:
        """A relative change: 0.05 means 5 % of the old value."""
        return cls("relative", fraction)

    @classmethod
    def points(cls, amount: float) -> Threshold:
        """An absolute change in the field's unit: 0.02 is 2 points for fractions."""
        return cls("points", amount)

    def exceeded(self, old: Any, new: Any) -> bool:
        if not (_is_number(old) and _is_number(new)):
            return bool(old != new)
        old_f, new_f = float(old), float(new)
        if math.isnan(old_f) or math.isnan(new_f):
            return not (math.isnan(old_f) and math.isnan(new_f))
        change = abs(new_f - old_f)
        if self.kind == "relative":
            if old_f == 0:
                return change != 0
            change /= abs(old_f)
        return change > self.value + _TOLERANCE


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# The reference text's fields, with revenue growth in percentage points as it intended.
DEFAULT_THRESHOLDS: Mapping[str, Threshold] = {
    "pe_ratio": Threshold.relative(0.05),
    "revenue_growth": Threshold.points(0.02),
    "debt_ratio": Threshold.relative(0.10),
}

_ABSENT = object()


def changed_significantly(
    old: Mapping[str, Any], new: Mapping[str, Any], thresholds: Mapping[str, Threshold] = DEFAULT_THRESHOLDS
) -> list[str]:
    """The fields of ``thresholds`` that changed significantly from ``old`` to ``new``."""
    changed = []
    for name, threshold in thresholds.items():
        before, after = old.get(name, _ABSENT), new.get(name, _ABSENT)
        if before is _ABSENT and after is _ABSENT:
            continue
        if before is _ABSENT or after is _ABSENT or threshold.exceeded(before, after):
            changed.append(name)
    return changed


async def reuse_if_unchanged(
    cache: CacheService,
    key: str,
    inputs: Mapping[str, Any],
    compute: Callable[[], Awaitable[Any]],
    *,
    thresholds: Mapping[str, Threshold] = DEFAULT_THRESHOLDS,
    ttl: int | None = None,
    model: str | None = None,
) -> tuple[Any, bool]:
    """``(answer, reused)``: the cached answer while its inputs have not changed
    significantly, else ``compute()``'s, stored with ``inputs`` in the entry's meta."""
    found = await cache.lookup(key)
    if found.hit:
        before = (found.meta or {}).get("inputs")
        changed = changed_significantly(before, inputs, thresholds) if isinstance(before, Mapping) else ["*"]
        if not changed:
            return found.value, True
        log.info("cache %s: inputs changed significantly (%s): recomputing", key, ", ".join(changed))
        _count_as_miss(cache, key, found)
    value, usage, latency_ms = await measured_call(compute)
    cost = settle_usage(cache.settings, usage, inputs, value, model)
    meta = {
        "model": cost.model,
        "input_tokens": cost.input_tokens,
        "output_tokens": cost.output_tokens,
        "cost_usd": cost.cost_usd,
        "latency_ms": round(latency_ms, 3),
        "inputs": dict(inputs),
    }
    await cache.set(key, value, ttl, meta=meta)
    return value, False


def _count_as_miss(cache: CacheService, key: str, found: Lookup) -> None:
    """The lookup counted a hit, but the entry was stale: count a miss instead."""
    namespace = cache.describe_key(key).namespace
    cache.stats.undo_hit(namespace, found.cost_usd, found.llm_latency_ms)
    cache.stats.record_miss(namespace)
    undo = hit_delta(found.cost_usd, found.llm_latency_ms, found.latency_ms)
    cache.queue(
        namespace,
        CounterDelta(
            hits=-1, misses=1, cost_saved_usd=-undo.cost_saved_usd, time_saved_ms=-undo.time_saved_ms
        ),
    )
