"""``--compare``: the same workload under every key strategy and TTL policy, side by side.

The best run is the one that saves the most money among those whose stale-hit rate is at most
``max_stale_pct`` (ties: the higher hit rate, then the earlier row); when no run is fresh enough,
the one with the lowest stale-hit rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmcache_cli.config import POLICIES, Settings
from llmcache_cli.errors import UsageError
from llmcache_cli.market import MarketCalendar
from llmcache_cli.simulation.run import simulate
from llmcache_cli.simulation.scenario import DEFAULT_MAX_STALE_PCT, KEY_STRATEGIES, Scenario
from llmcache_cli.simulation.summary import Figures, SimulationResult, figures_dict


@dataclass(frozen=True)
class CompareRow:
    key_strategy: str
    policy: str
    engine: str
    figures: Figures


@dataclass(frozen=True)
class Comparison:
    rows: tuple[CompareRow, ...]
    best: int  # index into rows
    max_stale_pct: float
    base: SimulationResult  # the first run, for the shared parameters


def compare(
    scenario: Scenario,
    settings: Settings,
    strategies: Sequence[str] = KEY_STRATEGIES,
    policies: Sequence[str] = POLICIES,
    max_stale_pct: float = DEFAULT_MAX_STALE_PCT,
    engine: str = "auto",
) -> Comparison:
    """Run ``scenario`` once per (strategy, policy). The flat policy uses the scenario's TTL."""
    if not 0 <= max_stale_pct <= 100:
        raise UsageError(f"--max-stale-pct must be between 0 and 100, got {max_stale_pct}")
    calendar = MarketCalendar.from_settings(settings)
    rows: list[CompareRow] = []
    base: SimulationResult | None = None
    for strategy in strategies:
        for policy in policies:
            variant = dataclasses.replace(
                scenario,
                key_strategy=strategy,
                policy=policy,
                flat_ttl_seconds=scenario.flat_ttl_seconds if policy == "flat" else None,
            )
            result = simulate(variant, settings, engine, calendar)
            base = base or result
            rows.append(CompareRow(strategy, policy, result.engine, result.totals))
    assert base is not None
    return Comparison(tuple(rows), best_row(rows, max_stale_pct), max_stale_pct, base)


def best_row(rows: Sequence[CompareRow], max_stale_pct: float) -> int:
    def stale(row: CompareRow) -> float:
        return row.figures.stale_hit_rate or 0.0

    fresh = [k for k, row in enumerate(rows) if stale(row) * 100 <= max_stale_pct + 1e-12]
    if fresh:
        return max(fresh, key=lambda k: (rows[k].figures.savings_usd, rows[k].figures.hit_rate or 0.0, -k))
    return min(range(len(rows)), key=lambda k: (stale(rows[k]), k))


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    best = comparison.rows[comparison.best]
    params = dict(comparison.base.parameters)
    for name in ("key_strategy", "policy", "flat_ttl_seconds"):
        params.pop(name, None)
    return {
        "runs": [
            {
                "key_strategy": row.key_strategy,
                "policy": row.policy,
                "engine": row.engine,
                **figures_dict(row.figures),
            }
            for row in comparison.rows
        ],
        "best": {"key_strategy": best.key_strategy, "policy": best.policy},
        "best_rule": (
            f"largest savings among runs with a stale-hit rate of at most {comparison.max_stale_pct:g} %"
            " (else the lowest stale-hit rate)"
        ),
        "max_stale_pct": comparison.max_stale_pct,
        "flat_ttl_seconds": comparison.base.parameters.get("flat_ttl_seconds"),
        "parameters": params,
    }
