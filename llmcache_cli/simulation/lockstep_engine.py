"""The fast engine for ``conditional`` and ``data-hash``: one vector step per request instant.

Under these strategies a hit depends on each symbol's inputs, so the engine walks the request
instants once and, at each, decides every (data type, symbol) key of a chunk together with numpy:

- ``conditional``: one entry per key; a request hits when the entry is live and its inputs did
  not change significantly (``changed_significantly``'s thresholds, in numpy form), decided by
  ``cache_rule.misses``, the reference engine's own rule, on arrays.
- ``data-hash``: one entry per distinct input. The news and earnings counts only grow, so an
  entry made before the latest news item or release can never be asked for again: the state is
  one expiry per price level of the current (news, earnings) epoch, reset when it moves on.

A hit under either strategy was made from inputs that have not changed significantly (a price
level is 0.5 % wide, below the 1 % threshold), so neither ever serves a stale hit; the reference
engine checks it literally. Needs the LLM to answer before the next instant
(``fast_plan.fast_unsupported``).
"""

from __future__ import annotations

import numpy as np

from llmcache_cli.simulation.cache_rule import misses
from llmcache_cli.simulation.fast_plan import Plan
from llmcache_cli.simulation.inputs import FIELDS, PRICE_LIMIT, InputArrays
from llmcache_cli.simulation.prepare import SimContext, grid_entry, row_chunks
from llmcache_cli.simulation.tally import Tally
from llmcache_cli.simulation.workload import end_instant

LOCKSTEP_CHUNK_VALUES = 25_000_000


class _Rows:
    """The keys of one chunk: row ``d * S + s`` is data type ``d`` of chunk symbol ``s``."""

    def __init__(self, ctx: SimContext, plan: Plan, first: int, count: int) -> None:
        types = ctx.scenario.data_types
        self.count = count
        self.symbol = np.tile(np.arange(count), len(types))
        self.dtype = np.repeat(np.arange(len(types)), count)
        self.starts = np.arange(len(types)) * count
        offsets = np.cumsum([0] + [len(per.tables) for per in plan.ttls[:-1]])
        self.klass = np.concatenate(
            [plan.ttls[d].class_of[first : first + count] + offsets[d] for d in range(len(types))]
        )
        # expiry per (instant, class), time-major so that a step reads one row
        self.expiry = np.ascontiguousarray(np.stack([e for per in plan.expiry for e in per], axis=1))

        def reads(name: str) -> np.ndarray:
            return np.repeat([name in FIELDS[t] for t in types], count)

        self.price, self.news, self.earnings = reads("price"), reads("news"), reads("earnings")


def run_lockstep(ctx: SimContext, plan: Plan) -> Tally:
    tally = ctx.empty_tally()
    tally.end_ms = end_instant(ctx.grid, ctx.scenario.llm_latency_ms)
    symbols = ctx.scenario.symbols
    for chunk in row_chunks(len(symbols), ctx.grid.size, LOCKSTEP_CHUNK_VALUES):
        arrays = ctx.inputs.arrays(symbols[chunk.start : chunk.stop])
        rows = _Rows(ctx, plan, chunk.start, len(chunk))
        if ctx.scenario.key_strategy == "conditional":
            _conditional(ctx, tally, arrays, rows, chunk.start)
        else:
            _data_hash(ctx, tally, arrays, rows, chunk.start)
    tally.price_flat(ctx.scenario.cost.per_call_usd)
    return tally


def _time_major(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values.T)


def _conditional(ctx: SimContext, tally: Tally, arrays: InputArrays, rows: _Rows, first: int) -> None:
    n_rows = rows.symbol.size
    expires = np.full(n_rows, -1, dtype=np.int64)
    owner = np.zeros(n_rows, dtype=np.int64)
    own_price = np.ones(n_rows)
    own_news = np.zeros(n_rows, dtype=np.int32)
    own_earnings = np.zeros(n_rows, dtype=np.int32)
    price = _time_major(arrays.price) if rows.price.any() else None
    news = _time_major(arrays.news) if rows.news.any() else None
    earnings = _time_major(arrays.earnings) if rows.earnings.any() else None
    symbol, klass = rows.symbol, rows.klass
    counts = tally.misses
    moved = np.zeros(n_rows, dtype=bool)
    for i, t in enumerate(ctx.grid.times_ms.tolist()):
        moved.fill(False)
        if price is not None:
            now_price = price[i][symbol]
            moved |= rows.price & (np.abs(now_price - own_price) / own_price > PRICE_LIMIT)
        if news is not None:
            now_news = news[i][symbol]
            moved |= rows.news & (now_news != own_news)
        if earnings is not None:
            now_earnings = earnings[i][symbol]
            moved |= rows.earnings & (now_earnings != own_earnings)
        miss = misses(t, expires, moved, conditional=True)
        if price is not None:
            np.copyto(own_price, now_price, where=miss)
        if news is not None:
            np.copyto(own_news, now_news, where=miss)
        if earnings is not None:
            np.copyto(own_earnings, now_earnings, where=miss)
        counts[:, i] += np.add.reduceat(miss, rows.starts, dtype=np.int64)
        np.copyto(expires, rows.expiry[i][klass], where=miss)
        np.copyto(owner, i, where=miss)
    live = np.flatnonzero(expires >= tally.end_ms)
    _record(ctx, tally, arrays, rows, first, live, owner[live], expires[live])


def _data_hash(ctx: SimContext, tally: Tally, arrays: InputArrays, rows: _Rows, first: int) -> None:
    n_rows = rows.symbol.size
    symbol, klass = rows.symbol, rows.klass
    if rows.price.any():
        level = arrays.level
        low = level.min(axis=1)
        width = int((level.max(axis=1) - low).max()) + 1
        level_t = _time_major(level - low[:, None])
    else:
        level_t, width = None, 1
    expires = np.full((n_rows, width), -1, dtype=np.int64)
    owner = np.zeros((n_rows, width), dtype=np.int64)
    flat_expires, flat_owner = expires.reshape(-1), owner.reshape(-1)
    base = np.arange(n_rows) * width
    news = _time_major(arrays.news) if rows.news.any() else None
    earnings = _time_major(arrays.earnings) if rows.earnings.any() else None
    # The (news, earnings) epoch of each row's entries; rows that do not read one keep 0.
    cur_news = np.zeros(n_rows, dtype=np.int32)
    cur_earnings = np.zeros(n_rows, dtype=np.int32)
    counts, end_ms = tally.misses, tally.end_ms
    for i, t in enumerate(ctx.grid.times_ms.tolist()):
        if news is not None or earnings is not None:
            moved = np.zeros(n_rows, dtype=bool)
            if news is not None:
                now_news = np.where(rows.news, news[i][symbol], 0)
                moved |= now_news != cur_news
            if earnings is not None:
                now_earnings = np.where(rows.earnings, earnings[i][symbol], 0)
                moved |= now_earnings != cur_earnings
            if i > 0 and moved.any():
                stale_rows = np.flatnonzero(moved)
                gone = expires[stale_rows]
                keep_r, keep_c = np.nonzero(gone >= end_ms)
                if keep_r.size:
                    r = stale_rows[keep_r]
                    _record(ctx, tally, arrays, rows, first, r, owner[r, keep_c], gone[keep_r, keep_c])
                expires[stale_rows] = -1
            if news is not None:
                cur_news = now_news
            if earnings is not None:
                cur_earnings = now_earnings
        cell = base if level_t is None else base + np.where(rows.price, level_t[i][symbol], 0)
        miss = misses(t, flat_expires[cell], False, conditional=False)
        counts[:, i] += np.add.reduceat(miss, rows.starts, dtype=np.int64)
        written = cell[miss]
        flat_expires[written] = rows.expiry[i][klass[miss]]
        flat_owner[written] = i
    live_r, live_c = np.nonzero(expires >= end_ms)
    _record(ctx, tally, arrays, rows, first, live_r, owner[live_r, live_c], expires[live_r, live_c])


def _record(
    ctx: SimContext,
    tally: Tally,
    arrays: InputArrays,
    rows: _Rows,
    first: int,
    which: np.ndarray,
    owner: np.ndarray,
    expires: np.ndarray,
) -> None:
    """Add the live entries of rows ``which`` (made at instants ``owner``) to the end state."""
    for r, m, e in zip(which.tolist(), owner.tolist(), expires.tolist(), strict=True):
        s = int(rows.symbol[r])
        data_type = ctx.scenario.data_types[int(rows.dtype[r])]
        tally.live.append(grid_entry(ctx, arrays, s, ctx.scenario.symbols[first + s], data_type, m, e))
