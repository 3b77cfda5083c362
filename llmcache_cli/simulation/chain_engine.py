"""The fast engine for ``symbol`` and ``time-bucket`` keys: miss chains, vectorised across symbols.

Every symbol sees the same request instants, and under these key strategies whether a request
hits depends only on those instants and the TTLs, not on the inputs. So the hits and misses are
worked out once per (data type, TTL class) by ``miss_chains`` (one key, or one per hour bucket).
Only the stale-hit count depends on each symbol's inputs; it is computed with numpy for all
symbols of a class at once. ``conditional`` and ``data-hash`` depend on the inputs:
``lockstep_engine`` runs them. Needs what ``fast_plan.fast_unsupported`` checks; the tests check
that this engine agrees exactly with the reference engine.
"""

from __future__ import annotations

import numpy as np

from llmcache_cli.simulation.fast_plan import Plan
from llmcache_cli.simulation.inputs import FIELDS, PRICE_LIMIT, InputArrays
from llmcache_cli.simulation.keying import BUCKET_MS
from llmcache_cli.simulation.miss_chains import miss_chains
from llmcache_cli.simulation.prepare import SimContext, grid_entry, row_chunks
from llmcache_cli.simulation.tally import Tally
from llmcache_cli.simulation.workload import end_instant

CHAIN_CHUNK_VALUES = 4_000_000  # input values per symbol chunk when counting stale hits


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
    t0 = int(times[0])
    bucket_end = None
    key = np.zeros(times.size, dtype=np.int64)  # one key: the symbol's
    if scenario.key_strategy == "time-bucket":
        bucket = times // BUCKET_MS
        bucket_end = np.searchsorted(times, (bucket + 1) * BUCKET_MS, side="left")
        key = bucket - bucket[0]  # one key per hour bucket

    # One chain per (data type, TTL class).
    chains: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
    for d, per in enumerate(plan.ttls):
        per_class = []
        for c, expiry in enumerate(plan.expiry[d]):
            miss = miss_chains(key, times - t0, expiry - t0, latency)
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
