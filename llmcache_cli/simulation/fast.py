"""The fast engine for generated workloads: closed forms per key, vectorised across symbols.

Every symbol sees the same request instants, and under the ``symbol`` and ``time-bucket`` key
strategies whether a request hits depends only on those instants and the TTLs, not on the
inputs. So the hits and misses are worked out once per (data type, TTL class) as a chain of
misses: after the first miss ``r``, every request before ``r``'s answer lands is a miss too
(``r..l``); the next miss is the first request after the expiry of the last of those writes
(or the first of the next hour bucket). Only the stale-hit count depends on each symbol's
inputs; it is computed with numpy for all symbols of a class at once.

``conditional`` and ``data-hash`` depend on the inputs; ``lockstep.py`` handles them, stepping
through the instants with every (symbol, data type) key in one vector.

Assumptions, checked by ``fast_unsupported`` (the reference engine runs otherwise): no TTL is
shorter than the LLM latency; for ``conditional`` and ``data-hash``, the LLM answers before the
next cycle. The tests check that this engine agrees exactly with the reference engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmcache_cli.simulation.context import SimContext, row_chunks
from llmcache_cli.simulation.engine import grid_entry
from llmcache_cli.simulation.inputs import FIELDS, PRICE_LIMIT, InputArrays
from llmcache_cli.simulation.keying import BUCKET_MS
from llmcache_cli.simulation.tally import Tally
from llmcache_cli.simulation.ttls import TypeTTLs, type_ttls
from llmcache_cli.simulation.workload import end_instant

CHAIN_CHUNK_VALUES = 4_000_000  # input values per symbol chunk when counting stale hits


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


def run_fast(ctx: SimContext, plan: Plan | None = None) -> Tally:
    plan = plan or make_plan(ctx)
    reason = fast_unsupported(ctx, plan)
    if reason is not None:
        raise ValueError(reason)
    if ctx.scenario.key_strategy in ("conditional", "data-hash"):
        from llmcache_cli.simulation.lockstep import run_lockstep

        return run_lockstep(ctx, plan)
    return run_chains(ctx, plan)


# ---------------------------------------------------------------------------------------------
# symbol and time-bucket


def miss_chain(
    times: np.ndarray, expiry: np.ndarray, latency_ms: int, bucket_end: np.ndarray | None
) -> np.ndarray:
    """Which instants miss, for one key (one per hour bucket with ``bucket_end``), as bools.

    ``expiry[i]``: when the answer of a miss at ``i`` would expire; ``bucket_end[i]``: the first
    instant of the next hour bucket (a new key).
    """
    n = times.size
    next_root = np.searchsorted(times, expiry, side="right").tolist()
    # The last request before a miss's answer lands: those are misses too (a burst).
    burst_end = np.maximum(np.searchsorted(times, times + latency_ms, side="left") - 1, np.arange(n))
    if bucket_end is not None:
        burst_end = np.minimum(burst_end, bucket_end - 1)
    miss = np.zeros(n, dtype=bool)
    r = 0
    if bucket_end is None and bool((burst_end == np.arange(n)).all()):
        roots: list[int] = []
        while r < n:
            roots.append(r)
            r = next_root[r]
        miss[roots] = True
        return miss
    last_of = burst_end.tolist()
    ends = bucket_end.tolist() if bucket_end is not None else [n] * n
    while r < n:
        last = last_of[r]
        miss[r : last + 1] = True
        r = min(next_root[last], ends[r])
    return miss


def owners(times: np.ndarray, miss: np.ndarray, latency_ms: int) -> np.ndarray:
    """For each instant, the miss whose answer a request there would see (-1: none yet)."""
    idx = np.arange(times.size)
    last_miss = np.maximum.accumulate(np.where(miss, idx, -1))
    landed = np.searchsorted(times, times - latency_ms, side="right") - 1
    return np.where(landed >= 0, last_miss[np.maximum(landed, 0)], -1)


def stale_counts(
    arrays: InputArrays,
    rows: np.ndarray,
    data_type: str,
    hits: np.ndarray,
    owner: np.ndarray,
    session_of: np.ndarray,
) -> np.ndarray:
    """Per hit instant: how many of ``rows`` were served an answer whose inputs changed since."""
    fields = FIELDS[data_type]
    if "price" in fields:
        price = arrays.price[rows]
        before = price[:, owner]
        moved = np.abs(price[:, hits] - before) / np.abs(before) > PRICE_LIMIT
    else:
        moved = np.zeros((rows.size, hits.size), dtype=bool)
    if "news" in fields:
        news = arrays.news[rows]
        moved |= news[:, hits] != news[:, owner]
    if "earnings" in fields:
        # Releases happen before an open: only hits served across sessions can see one.
        across = np.flatnonzero(session_of[hits] != session_of[owner])
        if across.size:
            earnings = arrays.earnings[rows]
            moved[:, across] |= earnings[:, hits[across]] != earnings[:, owner[across]]
    return moved.sum(axis=0, dtype=np.int64)


def run_chains(ctx: SimContext, plan: Plan) -> Tally:
    scenario, grid = ctx.scenario, ctx.grid
    times, latency = grid.times_ms, scenario.llm_latency_ms
    tally = ctx.empty_tally()
    assert tally.stale is not None
    tally.end_ms = end_instant(grid, latency)
    bucket_end = None
    if scenario.key_strategy == "time-bucket":
        bucket = times // BUCKET_MS
        bucket_end = np.searchsorted(times, (bucket + 1) * BUCKET_MS, side="left")

    # One chain per (data type, TTL class).
    chains: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
    for d, per in enumerate(plan.ttls):
        per_class = []
        for c, expiry in enumerate(plan.expiry[d]):
            miss = miss_chain(times, expiry, latency, bucket_end)
            members = int((per.class_of == c).sum())
            tally.misses[d] += miss * members
            hits = np.flatnonzero(~miss)
            per_class.append((miss, hits, owners(times, miss, latency)[hits]))
        chains.append(per_class)

    symbols = scenario.symbols
    for chunk in row_chunks(len(symbols), grid.size, CHAIN_CHUNK_VALUES):
        arrays = ctx.inputs.arrays(symbols[chunk.start : chunk.stop])
        for d, data_type in enumerate(scenario.data_types):
            class_of = plan.ttls[d].class_of[chunk.start : chunk.stop]
            for c, (miss, hits, owner) in enumerate(chains[d]):
                rows = np.flatnonzero(class_of == c)
                if rows.size == 0:
                    continue
                if hits.size:
                    tally.stale[d, hits] += stale_counts(
                        arrays, rows, data_type, hits, owner, grid.session_of
                    )
                _chain_end_state(
                    ctx, tally, arrays, chunk.start, rows, d, miss, plan.expiry[d][c], bucket_end
                )
    tally.price_flat(scenario.cost.per_call_usd)
    return tally


def _chain_end_state(
    ctx: SimContext,
    tally: Tally,
    arrays: InputArrays,
    first_symbol: int,
    rows: np.ndarray,
    d: int,
    miss: np.ndarray,
    expiry: np.ndarray,
    bucket_end: np.ndarray | None,
) -> None:
    """The entries still live at the end: the last write of each key (of each hour bucket)."""
    misses = np.flatnonzero(miss)
    if bucket_end is None:
        latest = misses[-1:]
    else:
        ends = bucket_end[misses]
        latest = misses[np.append(ends[1:] != ends[:-1], True)] if misses.size else misses
    live = [int(m) for m in latest if expiry[m] >= tally.end_ms]
    if not live:
        return
    data_type = ctx.scenario.data_types[d]
    for row in rows.tolist():
        symbol = ctx.scenario.symbols[first_symbol + row]
        for m in live:
            tally.live.append(grid_entry(ctx, arrays, row, symbol, data_type, m, int(expiry[m])))
