"""Run a generated scenario: pick the engine, and turn its tally into a result."""

from __future__ import annotations

from typing import Any

from llmcache_cli.config import Settings
from llmcache_cli.errors import UsageError
from llmcache_cli.market import MarketCalendar
from llmcache_cli.simulation.chain_engine import run_chains
from llmcache_cli.simulation.fast_plan import Plan, fast_unsupported, make_plan
from llmcache_cli.simulation.inputs import PRICE_LEVEL_STEP, PRICE_MOVE
from llmcache_cli.simulation.lockstep_engine import run_lockstep
from llmcache_cli.simulation.prepare import SimContext, build_context
from llmcache_cli.simulation.reference_engine import run_reference
from llmcache_cli.simulation.scenario import Scenario
from llmcache_cli.simulation.summary import SimulationResult, summarise
from llmcache_cli.simulation.tally import Tally

ENGINES = ("auto", "fast", "reference")


def simulate(
    scenario: Scenario,
    settings: Settings,
    engine: str = "auto",
    calendar: MarketCalendar | None = None,
) -> SimulationResult:
    """Simulate ``scenario``. ``engine``: ``fast`` (vectorised, closed forms), ``reference``
    (one request at a time), or ``auto`` (fast whenever it supports the scenario)."""
    ctx = build_context(scenario, settings, calendar)
    tally, used = run_engine(ctx, engine)
    return summarise(
        tally,
        source="generated",
        engine=used,
        parameters=parameters(ctx),
        llm_latency_ms=float(scenario.llm_latency_ms),
        cache_latency_ms=scenario.cache_latency_ms,
        half_days=[s.half_day for s in ctx.grid.sessions],
    )


def run_engine(ctx: SimContext, engine: str) -> tuple[Tally, str]:
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}", hint="known: " + ", ".join(ENGINES))
    if engine == "reference":
        return run_reference(ctx), "reference"
    plan = make_plan(ctx)
    reason = fast_unsupported(ctx, plan)
    if reason is None:
        return run_fast(ctx, plan), "fast"
    if engine == "fast":
        raise UsageError(f"the fast engine cannot run this scenario: {reason}", hint="use --engine reference")
    return run_reference(ctx), "reference"


def run_fast(ctx: SimContext, plan: Plan | None = None) -> Tally:
    """The fast engine for ``ctx``: miss chains for keys that do not depend on the inputs,
    lockstep for those that do."""
    plan = plan or make_plan(ctx)
    reason = fast_unsupported(ctx, plan)
    if reason is not None:
        raise ValueError(reason)
    if ctx.scenario.key_strategy in ("conditional", "data-hash"):
        return run_lockstep(ctx, plan)
    return run_chains(ctx, plan)


def parameters(ctx: SimContext) -> dict[str, Any]:
    s = ctx.scenario
    return {
        "symbols": len(s.symbols),
        "symbol_list": list(s.symbols) if len(s.symbols) <= 100 else None,
        "data_types": list(s.data_types),
        "interval_seconds": s.interval_seconds,
        "days": s.days,
        "start": s.start.isoformat(),
        "first_session": ctx.grid.sessions[0].date.isoformat(),
        "last_session": ctx.grid.sessions[-1].date.isoformat(),
        "requests_per_symbol_and_type": ctx.grid.size,
        "policy": ctx.policy.name,
        "flat_ttl_seconds": ctx.policy.max_ttl("analysis") if ctx.policy.name == "flat" else None,
        "key_strategy": s.key_strategy,
        "cost_per_call_usd": s.cost.per_call_usd,
        "model": s.cost.model,
        "input_tokens": s.cost.input_tokens,
        "output_tokens": s.cost.output_tokens,
        "llm_latency_ms": s.llm_latency_ms,
        "cache_latency_ms": s.cache_latency_ms,
        "seed": s.seed,
        "cache_version": ctx.version,
        "significant_price_move": PRICE_MOVE,
        "price_level_step": PRICE_LEVEL_STEP,
    }
