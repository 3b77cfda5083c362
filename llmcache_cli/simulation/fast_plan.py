"""What the fast engines share: the TTL tables of a scenario, and when they can run it.

Assumptions, checked by ``fast_unsupported`` (the reference engine runs otherwise): no TTL is
shorter than the LLM latency; for ``conditional`` and ``data-hash``, the LLM answers before the
next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmcache_cli.simulation.prepare import SimContext
from llmcache_cli.simulation.ttls import TypeTTLs, type_ttls


@dataclass(frozen=True)
class Plan:
    ttls: tuple[TypeTTLs, ...]  # per data type, in scenario order
    expiry: tuple[tuple[np.ndarray, ...], ...]  # [data type][class]: expiry_ms per instant


def make_plan(ctx: SimContext) -> Plan:
    ttls = tuple(type_ttls(ctx.policy, d, ctx.scenario.symbols, ctx.grid) for d in ctx.scenario.data_types)
    latency = ctx.scenario.llm_latency_ms
    expiry = tuple(tuple(t.expiry_ms(ctx.grid, latency) for t in per.tables) for per in ttls)
    return Plan(ttls, expiry)


def fast_unsupported(ctx: SimContext, plan: Plan | None = None) -> str | None:
    """Why the fast engine cannot run ``ctx`` exactly, or None when it can."""
    plan = plan or make_plan(ctx)
    latency = ctx.scenario.llm_latency_ms
    shortest = min(t.shortest_s for per in plan.ttls for t in per.tables)
    if shortest * 1000 < latency:
        return f"a TTL ({shortest} s) is shorter than the LLM latency ({latency} ms)"
    gap = ctx.grid.min_gap_ms()
    if ctx.scenario.key_strategy in ("conditional", "data-hash") and gap is not None and gap <= latency:
        return f"the LLM latency ({latency} ms) is not shorter than the interval between requests"
    return None
