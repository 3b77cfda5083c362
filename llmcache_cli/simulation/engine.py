"""The reference engine: one request at a time, exactly as SPEC section 7 states the semantics.

It is slow on purpose (a Python loop, a dict standing in for Redis, ``policy.ttl`` called at
every write, keys built as strings by the library's key builder, inputs compared with the
library's ``changed_significantly``) so that it can be read against the spec; the fast engines
must agree with it exactly.

Semantics, as Redis behaves:

- on a miss the LLM is called; its answer is written (``SET ... PX ttl``) at request time + LLM
  latency, with the TTL the policy gives at that write time;
- an entry serves a request at ``t`` when ``written <= t <= written + TTL`` (Redis expires a key
  only when now is strictly past its expiry); a GET does not extend the TTL;
- requests that arrive before a pending answer is written are misses too, each calling the
  LLM; their writes land in order and each overwrites the entry with a fresh TTL (plain SET);
- ``conditional``: a live entry whose inputs changed significantly is not used (a miss); the
  fresh answer overwrites it when it lands;
- a hit is stale when the inputs changed significantly since the answer was made.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from llmcache_cli.simulation.context import SimContext
from llmcache_cli.simulation.inputs import InputArrays, changed
from llmcache_cli.simulation.keying import entry_key
from llmcache_cli.simulation.tally import EndEntry, Tally
from llmcache_cli.simulation.workload import end_instant, from_epoch_ms


@dataclass
class _Stored:
    written_ms: int
    expires_ms: int
    inputs: dict[str, Any]
    symbol: str
    data_type: str


def run_reference(ctx: SimContext) -> Tally:
    scenario = ctx.scenario
    latency = scenario.llm_latency_ms
    strategy = scenario.key_strategy
    arrays = ctx.inputs.arrays(scenario.symbols)
    tally = ctx.empty_tally()
    misses, stale = tally.misses, tally.stale
    assert stale is not None
    store: dict[str, _Stored] = {}
    pending: deque[tuple[str, _Stored]] = deque()

    def land(until_ms: int) -> None:
        while pending and pending[0][1].written_ms <= until_ms:
            key, entry = pending.popleft()
            store[key] = entry

    for i, t in enumerate(ctx.grid.times_ms.tolist()):
        land(t)
        for row, symbol in enumerate(scenario.symbols):
            for d, data_type in enumerate(scenario.data_types):
                now = arrays.snapshot(row, i, data_type)
                key = entry_key(strategy, data_type, symbol, ctx.version, arrays, row, i, t)
                entry = store.get(key)
                usable = entry is not None and t <= entry.expires_ms
                if usable and strategy == "conditional":
                    assert entry is not None
                    usable = not changed(entry.inputs, now, data_type)
                if usable:
                    assert entry is not None
                    if changed(entry.inputs, now, data_type):
                        stale[d, i] += 1
                    continue
                misses[d, i] += 1
                written = t + latency
                ttl = ctx.policy.ttl(data_type, symbol, from_epoch_ms(written))
                pending.append((key, _Stored(written, written + ttl * 1000, now, symbol, data_type)))

    tally.end_ms = end_instant(ctx.grid, latency)
    land(tally.end_ms)
    tally.price_flat(scenario.cost.per_call_usd)
    tally.live = [
        end_entry(ctx, key, e.data_type, e.symbol, e.written_ms, e.expires_ms, e.inputs)
        for key, e in store.items()
        if e.expires_ms >= tally.end_ms
    ]
    return tally


def end_entry(
    ctx: SimContext,
    key: str,
    data_type: str,
    symbol: str,
    written_ms: int,
    expires_ms: int,
    inputs: dict[str, Any],
) -> EndEntry:
    cost = ctx.scenario.cost
    return EndEntry(
        key=key,
        data_type=data_type,
        symbol=symbol,
        written_ms=written_ms,
        expires_ms=expires_ms,
        inputs=inputs,
        cost_usd=cost.per_call_usd,
        latency_ms=float(ctx.scenario.llm_latency_ms),
        model=cost.model,
        input_tokens=cost.input_tokens,
        output_tokens=cost.output_tokens,
    )


def grid_entry(
    ctx: SimContext,
    arrays: InputArrays,
    row: int,
    symbol: str,
    data_type: str,
    index: int,
    expires_ms: int,
) -> EndEntry:
    """The entry written by the miss of ``symbol`` (row ``row`` of ``arrays``) at grid instant
    ``index``, as the fast engines report it in the end state."""
    at = int(ctx.grid.times_ms[index])
    key = entry_key(ctx.scenario.key_strategy, data_type, symbol, ctx.version, arrays, row, index, at)
    snapshot = arrays.snapshot(row, index, data_type)
    return end_entry(ctx, key, data_type, symbol, at + ctx.scenario.llm_latency_ms, expires_ms, snapshot)
