"""``--trace FILE``: replay the library's request trace under a chosen TTL policy.

The trace gives the request instants and keys; the replay re-decides every hit and miss with
the cache rule of ``reference_engine`` (answers written at request time + LLM latency, with the
TTL the policy gives then; served while ``written <= t <= written + TTL``; requests before a
pending answer lands miss too, and overwrite). A request's cost is what the trace recorded
(``cost_usd``: what the call cost, or would have cost on a hit), or ``--cost-per-call``, or its
recorded tokens priced for ``--model``. What the trace itself recorded is reported alongside.
A trace carries no inputs, so stale hits are unknown (null).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmcache_cli.config import DATA_TYPES, Settings
from llmcache_cli.errors import UsageError
from llmcache_cli.market import NY, MarketCalendar
from llmcache_cli.simulation.cache_rule import expires_at
from llmcache_cli.simulation.miss_chains import LONGEST_SPAN_MS, miss_chains
from llmcache_cli.simulation.scenario import MAX_LLM_LATENCY_MS, CostModel
from llmcache_cli.simulation.summary import SimulationResult, figures, summarise
from llmcache_cli.simulation.tally import EndEntry, Tally
from llmcache_cli.simulation.trace_columns import Columns, take
from llmcache_cli.simulation.trace_parse import read_columns
from llmcache_cli.simulation.workload import epoch_ms, from_epoch_ms
from llmcache_cli.ttl_policy import ByTypePolicy, FlatPolicy, TTLPolicy, make_policy

HOUR_MS = 3_600_000


def replay_file(
    path: str,
    settings: Settings,
    *,
    policy: str,
    flat_ttl_seconds: int | None,
    llm_latency_ms: int,
    cache_latency_ms: float,
    cost: CostModel | None = None,
) -> SimulationResult:
    if not os.path.isfile(path):
        raise UsageError(f"trace file not found: {path}")
    if not 0 <= llm_latency_ms <= MAX_LLM_LATENCY_MS or not cache_latency_ms >= 0:
        raise UsageError("--llm-latency-ms and --cache-latency-ms must be >= 0")
    try:
        columns = read_columns(path, path, want_tokens=cost is not None and cost.model is not None)
    except OSError as exc:
        raise UsageError(f"cannot read trace {path}: {exc.strerror}") from None
    if columns.size == 0:
        raise UsageError(f"trace {path} has no requests")
    calendar = MarketCalendar.from_settings(settings)
    ttl_policy = make_policy(settings, policy, calendar=calendar, flat_seconds=flat_ttl_seconds)
    costs = request_costs(columns, settings, cost)
    replayed = replay(columns, ttl_policy, calendar, llm_latency_ms, costs)
    tally = replayed.tally
    tally.live = _live_entries(columns, replayed, costs, llm_latency_ms)
    recorded_miss = ~columns.hit
    recorded = figures(
        columns.size,
        int(recorded_miss.sum()),
        None,
        float(columns.cost_usd.sum()),
        float(columns.cost_usd[recorded_miss].sum()),
        float(columns.latency_ms.sum()),
        float(columns.cache_latency_ms.sum() + columns.latency_ms[recorded_miss].sum()),
    )
    params: dict[str, Any] = {
        "trace": path,
        "lines": columns.size,
        "reader": columns.reader,
        "keys": len(columns.keys),
        "first_request": from_epoch_ms(int(columns.t_ms.min())).astimezone(NY).isoformat(),
        "last_request": from_epoch_ms(int(columns.t_ms.max())).astimezone(NY).isoformat(),
        "policy": ttl_policy.name,
        "flat_ttl_seconds": ttl_policy.max_ttl("analysis") if ttl_policy.name == "flat" else None,
        "key_strategy": "as recorded",
        "cost": "recorded cost_usd" if cost is None else cost.describe(),
        "llm_latency_ms": llm_latency_ms,
        "cache_latency_ms": cache_latency_ms,
    }
    return summarise(
        tally,
        source="trace",
        engine="replay",
        parameters=params,
        llm_latency_ms=float(llm_latency_ms),
        cache_latency_ms=cache_latency_ms,
        recorded=recorded,
    )


def request_costs(columns: Columns, settings: Settings, cost: CostModel | None) -> np.ndarray:
    """What each request costs (or would) as an LLM call."""
    if cost is None:
        return columns.cost_usd
    if cost.model is None:
        return np.full(columns.size, cost.per_call_usd)
    price = settings.price(cost.model)
    tokens = np.stack([np.nan_to_num(columns.input_tokens), np.nan_to_num(columns.output_tokens)], axis=1)
    pairs, inverse = np.unique(tokens.astype(np.int64), axis=0, return_inverse=True)
    priced = np.array([price.cost(int(a), int(b)) for a, b in pairs.tolist()])
    return priced[inverse.ravel()]


def market_bounds(calendar: MarketCalendar, first_ms: int, last_ms: int) -> np.ndarray:
    """Every open and close around the trace, in order: the market state is constant between."""
    first = from_epoch_ms(first_ms).astimezone(NY).date() - dt.timedelta(days=7)
    last = from_epoch_ms(last_ms).astimezone(NY).date() + dt.timedelta(days=1)
    sessions = calendar.sessions_between(first, last)
    return np.array([epoch_ms(at) for s in sessions for at in (s.open, s.close)], dtype=np.int64)


def expiry_times(
    columns: Columns, policy: TTLPolicy, calendar: MarketCalendar, latency_ms: int
) -> np.ndarray:
    """When each request's answer would expire if it missed: the policy asked once per
    (data type, TTL class of symbols, stretch of constant market state)."""
    write = columns.t_ms + latency_ms
    bounds = np.zeros(0, dtype=np.int64)  # flat and by-type TTLs do not depend on the market
    if not isinstance(policy, (FlatPolicy, ByTypePolicy)):
        bounds = market_bounds(calendar, int(columns.t_ms.min()), int(write.max()))
    stretch = np.searchsorted(bounds, write, side="right")

    def instant(k: int) -> dt.datetime:
        if bounds.size == 0:
            return from_epoch_ms(int(write.min()))
        return from_epoch_ms(int(bounds[k - 1]) if k >= 1 else int(bounds[0]) - HOUR_MS)

    probes = [instant(1), instant(0)] if bounds.size else [instant(0)]
    classes: dict[tuple[Any, ...], int] = {}
    class_of_key = np.empty(len(columns.keys), dtype=np.int64)
    members: list[tuple[str, str | None]] = []
    for k, (data_type, symbol) in enumerate(zip(columns.key_type, columns.key_symbol, strict=True)):
        signature = (data_type, *(policy.ttl(data_type, symbol, at) for at in probes))
        if signature not in classes:
            classes[signature] = len(classes)
            members.append((data_type, symbol))
        class_of_key[k] = classes[signature]
    stretches = bounds.size + 1
    code = class_of_key[columns.key_id] * stretches + stretch
    table = np.zeros(len(members) * stretches, dtype=np.int64)
    for c in np.flatnonzero(np.bincount(code, minlength=table.size)).tolist():
        data_type, symbol = members[c // stretches]
        table[c] = policy.ttl(data_type, symbol, instant(c % stretches))
    return expires_at(write, table[code])


@dataclass(frozen=True)
class Replayed:
    tally: Tally
    miss: np.ndarray  # bool per request, in file order
    order: np.ndarray  # file positions sorted by (key, time)
    miss_sorted: np.ndarray  # miss in that order
    expiry: np.ndarray  # per request (file order): expiry of its answer had it missed


def replay(
    columns: Columns, policy: TTLPolicy, calendar: MarketCalendar, latency_ms: int, costs: np.ndarray
) -> Replayed:
    """Re-decide every request of the trace under ``policy``."""
    t = columns.t_ms
    t0 = int(t.min())
    if int(t.max()) - t0 >= LONGEST_SPAN_MS:
        raise UsageError("the trace spans too long a time to replay")
    expiry = expiry_times(columns, policy, calendar, latency_ms)
    if len(columns.keys) < 2**16 and bool((t[1:] >= t[:-1]).all()):
        order = np.argsort(columns.key_id.astype(np.uint16), kind="stable")  # radix sort
    else:
        order = np.lexsort((t, columns.key_id))
    miss_sorted = miss_chains(columns.key_id[order], t[order] - t0, expiry[order] - t0, latency_ms)
    n = t.size
    miss = np.empty(n, dtype=bool)
    miss[order] = miss_sorted
    tally = _tally(columns, miss, costs)
    tally.end_ms = int(t.max()) + latency_ms
    return Replayed(tally, miss, order, miss_sorted, expiry)


def _tally(columns: Columns, miss: np.ndarray, costs: np.ndarray) -> Tally:
    hour = columns.t_ms // HOUR_MS
    first = int(hour.min())
    offset = hour - first
    present_hours = np.flatnonzero(np.bincount(offset))
    compact = np.zeros(int(offset.max()) + 1, dtype=np.int64)
    compact[present_hours] = np.arange(present_hours.size)
    slot = compact[offset]
    slot_ms = (present_hours + first) * HOUR_MS
    dates = [from_epoch_ms(int(ms)).astimezone(NY).date() for ms in slot_ms.tolist()]
    days = sorted(set(dates))
    day_index = {d: k for k, d in enumerate(days)}
    present = set(columns.key_type)
    types = tuple(d for d in DATA_TYPES if d in present)
    type_index = np.array([types.index(d) for d in columns.key_type], dtype=np.int64)
    line_type = type_index[columns.key_id]
    tally = Tally.empty(
        types, slot_ms, np.array([day_index[d] for d in dates], dtype=np.int32), tuple(days), with_stale=False
    )
    cell = line_type * slot_ms.size + slot
    size = len(types) * slot_ms.size

    def count(weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(cell, weights=weights, minlength=size).reshape(len(types), slot_ms.size)

    tally.requests = count(None).astype(np.int64)
    tally.misses = np.rint(count(miss.astype(np.float64))).astype(np.int64)
    tally.cost_without = count(costs)
    tally.cost_with = count(np.where(miss, costs, 0.0))
    return tally


def _live_entries(columns: Columns, replayed: Replayed, costs: np.ndarray, latency_ms: int) -> list[EndEntry]:
    """The last answer written for each key, if still live at the end (after the last request)."""
    order, miss_sorted, expiry = replayed.order, replayed.miss_sorted, replayed.expiry
    positions = np.flatnonzero(miss_sorted)
    keys_at = columns.key_id[order[positions]]
    last = positions[np.append(keys_at[1:] != keys_at[:-1], True)]
    lines = order[last]
    lines = lines[expiry[lines] >= replayed.tally.end_ms]

    def tokens(value: float) -> int | None:
        return None if math.isnan(value) else int(value)

    rows = lines.tolist()
    fields = (columns.model, columns.input_tokens, columns.output_tokens)
    models, inputs, outputs = (take(values, rows) for values in fields)
    out = []
    for i, model, input_tokens, output_tokens in zip(rows, models, inputs, outputs, strict=True):
        k = int(columns.key_id[i])
        out.append(
            EndEntry(
                key=columns.keys[k],
                data_type=columns.key_type[k],
                symbol=columns.key_symbol[k],
                written_ms=int(columns.t_ms[i]) + latency_ms,
                expires_ms=int(expiry[i]),
                inputs=None,
                cost_usd=float(costs[i]),
                latency_ms=float(columns.latency_ms[i]),
                model=model,
                input_tokens=tokens(float(input_tokens)),
                output_tokens=tokens(float(output_tokens)),
            )
        )
    return out
