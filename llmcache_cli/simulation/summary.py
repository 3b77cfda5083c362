"""The results of a simulation as frozen dataclasses, and their JSON form.

Rates are fractions (0.77), percentages are named ``..._pct``. Costs: "without cache" counts
every request, hits included, at what it would have cost; "with cache" counts the LLM calls
made. Latency totals: without cache every request waits for the LLM; with the cache a hit costs
one cache round trip and a miss a cache round trip plus the LLM call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from llmcache_cli.market import NY
from llmcache_cli.simulation.tally import EndEntry, Tally
from llmcache_cli.simulation.workload import from_epoch_ms

MONTH_TRADING_DAYS = 21
SERIES_POINTS = 120


@dataclass(frozen=True)
class Figures:
    requests: int
    hits: int
    misses: int
    hit_rate: float | None
    cost_without_cache_usd: float
    cost_with_cache_usd: float
    savings_usd: float
    savings_pct: float | None
    latency_without_cache_ms: float
    latency_with_cache_ms: float
    speedup: float | None
    stale_hits: int | None
    stale_hit_rate: float | None  # stale hits over hits


def figures(
    requests: int,
    misses: int,
    stale: int | None,
    cost_without: float,
    cost_with: float,
    latency_without_ms: float,
    latency_with_ms: float,
) -> Figures:
    hits = requests - misses
    savings = cost_without - cost_with
    return Figures(
        requests=requests,
        hits=hits,
        misses=misses,
        hit_rate=hits / requests if requests else None,
        cost_without_cache_usd=cost_without,
        cost_with_cache_usd=cost_with,
        savings_usd=savings,
        savings_pct=100.0 * savings / cost_without if cost_without else None,
        latency_without_cache_ms=latency_without_ms,
        latency_with_cache_ms=latency_with_ms,
        speedup=latency_without_ms / latency_with_ms if latency_with_ms else None,
        stale_hits=stale,
        stale_hit_rate=(stale / hits if hits else None) if stale is not None else None,
    )


@dataclass(frozen=True)
class TypeFigures:
    data_type: str
    figures: Figures


@dataclass(frozen=True)
class DayFigures:
    date: dt.date
    half_day: bool | None
    figures: Figures


@dataclass(frozen=True)
class SeriesPoint:
    at: dt.datetime  # America/New_York: the end of the slot the totals run to
    requests: int  # cumulative
    cost_without_cache_usd: float  # cumulative
    cost_with_cache_usd: float  # cumulative


@dataclass(frozen=True)
class Projection:
    trading_days: int  # the month the projection assumes
    basis_days: int  # simulated trading days it is scaled from
    cost_without_cache_usd: float
    cost_with_cache_usd: float
    savings_usd: float


@dataclass(frozen=True)
class SimulationResult:
    source: str  # "generated" or "trace"
    engine: str  # "reference", "fast" or "replay"
    parameters: dict[str, Any]
    totals: Figures
    per_data_type: tuple[TypeFigures, ...]
    per_day: tuple[DayFigures, ...]
    series: tuple[SeriesPoint, ...]
    monthly: Projection
    end_at: dt.datetime
    live: tuple[EndEntry, ...]  # the cache at ``end_at`` (for --populate; counted in JSON)
    recorded: Figures | None = None  # what a replayed trace itself recorded


def summarise(
    tally: Tally,
    *,
    source: str,
    engine: str,
    parameters: dict[str, Any],
    llm_latency_ms: float,
    cache_latency_ms: float,
    half_days: Sequence[bool] | None = None,
    recorded: Figures | None = None,
) -> SimulationResult:
    def rows(group: Callable[[np.ndarray], np.ndarray]) -> list[Figures]:
        """Figures per group; ``group`` sums a [data type, slot] array into the groups."""
        stale = None if tally.stale is None else group(tally.stale).tolist()
        return [
            counted(
                int(r),
                int(m),
                None if stale is None else int(stale[k]),
                w,
                c,
                llm_latency_ms,
                cache_latency_ms,
            )
            for k, (r, m, w, c) in enumerate(
                zip(
                    *(
                        group(a).tolist()
                        for a in (tally.requests, tally.misses, tally.cost_without, tally.cost_with)
                    ),
                    strict=True,
                )
            )
        ]

    per_type = rows(lambda a: a.sum(axis=1))
    days = len(tally.days)
    per_day = rows(lambda a: np.bincount(tally.slot_day, weights=a.sum(axis=0), minlength=days))
    (totals,) = rows(lambda a: np.array([a.sum()]))
    scale = MONTH_TRADING_DAYS / max(1, days)
    monthly = Projection(
        MONTH_TRADING_DAYS,
        max(1, days),
        totals.cost_without_cache_usd * scale,
        totals.cost_with_cache_usd * scale,
        totals.savings_usd * scale,
    )
    return SimulationResult(
        source=source,
        engine=engine,
        parameters=parameters,
        totals=totals,
        per_data_type=tuple(TypeFigures(name, f) for name, f in zip(tally.data_types, per_type, strict=True)),
        per_day=tuple(
            DayFigures(day, None if half_days is None else half_days[k], per_day[k])
            for k, day in enumerate(tally.days)
        ),
        series=cumulative_series(tally),
        monthly=monthly,
        end_at=from_epoch_ms(tally.end_ms).astimezone(NY),
        live=tuple(tally.live),
        recorded=recorded,
    )


def counted(
    requests: int,
    misses: int,
    stale: int | None,
    cost_without: float,
    cost_with: float,
    llm_latency_ms: float,
    cache_latency_ms: float,
) -> Figures:
    """Figures of simulated requests: without the cache each waits for the LLM; with it a hit
    costs a cache round trip and a miss a round trip plus the LLM call."""
    hits = requests - misses
    return figures(
        requests,
        misses,
        stale,
        cost_without,
        cost_with,
        requests * llm_latency_ms,
        hits * cache_latency_ms + misses * (cache_latency_ms + llm_latency_ms),
    )


def cumulative_series(tally: Tally, points: int = SERIES_POINTS) -> tuple[SeriesPoint, ...]:
    slots = tally.slot_ms.size
    if slots == 0:
        return ()
    requests = np.cumsum(tally.requests.sum(axis=0))
    without = np.cumsum(tally.cost_without.sum(axis=0))
    with_cache = np.cumsum(tally.cost_with.sum(axis=0))
    # sorted(set(...)) rather than np.unique, which imports numpy.ma (~10 ms of start-up)
    picks = sorted(set(np.linspace(0, slots - 1, min(points, slots)).round().astype(np.int64).tolist()))
    return tuple(
        SeriesPoint(
            from_epoch_ms(int(tally.slot_ms[k])).astimezone(NY),
            int(requests[k]),
            float(without[k]),
            float(with_cache[k]),
        )
        for k in picks
    )


# ---------------------------------------------------------------------------------------------
# JSON


def _rounded(data: dict[str, Any]) -> dict[str, Any]:
    """Dollar amounts to 1e-8 (sums of many prices carry float noise); the rest as computed."""
    return {
        name: round(v, 8) if name.endswith("_usd") and isinstance(v, float) else v for name, v in data.items()
    }


def figures_dict(f: Figures) -> dict[str, Any]:
    return _rounded(asdict(f))


def to_json(result: SimulationResult) -> dict[str, Any]:
    """The stable JSON document of ``llmcache simulate --json`` (see docs/simulate.md)."""
    doc: dict[str, Any] = {"source": result.source, "engine": result.engine}
    doc.update(figures_dict(result.totals))
    doc["per_data_type"] = [
        {"data_type": row.data_type, **figures_dict(row.figures)} for row in result.per_data_type
    ]
    doc["per_day"] = [
        {"date": row.date.isoformat(), "half_day": row.half_day, **figures_dict(row.figures)}
        for row in result.per_day
    ]
    doc["monthly_projection"] = _rounded(asdict(result.monthly))
    doc["cumulative_cost"] = [
        {
            "at": p.at.isoformat(),
            "requests": p.requests,
            "cost_without_cache_usd": round(p.cost_without_cache_usd, 8),
            "cost_with_cache_usd": round(p.cost_with_cache_usd, 8),
        }
        for p in result.series
    ]
    doc["end_at"] = result.end_at.isoformat()
    doc["live_entries_at_end"] = len(result.live)
    doc["recorded"] = None if result.recorded is None else figures_dict(result.recorded)
    doc["parameters"] = result.parameters
    return doc
