"""The reference engine: one request at a time, a dict standing in for Redis.

It is slow on purpose (a Python loop, ``policy.ttl`` called at every write, keys built as
strings by the library's key builder, inputs compared with the library's
``changed_significantly``) so that it can be read as the statement of the cache rule; the fast
engines (``miss_chains``, ``lockstep_engine``) must agree with it exactly. ``llmcache simulate
--engine reference`` runs it, and so does ``auto`` for scenarios the fast engines cannot run.

The rule, as Redis behaves (``serve``; its liveness and expiry are ``cache_rule``, which the
lockstep engine calls too):

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from llmcache_cli.simulation.cache_rule import expires_at, misses
from llmcache_cli.simulation.inputs import changed
from llmcache_cli.simulation.keying import entry_key
from llmcache_cli.simulation.prepare import SimContext, end_entry
from llmcache_cli.simulation.tally import Tally
from llmcache_cli.simulation.workload import end_instant, from_epoch_ms
from llmcache_cli.ttl_policy import TTLPolicy


@dataclass(slots=True)
class Request:
    t_ms: int
    key: str
    data_type: str
    symbol: str | None
    inputs: dict[str, Any] | None = None  # what the answer would be made from; None: unknown
    tag: Any = None  # the caller's, kept in the entry a miss writes


@dataclass(slots=True)
class Stored:
    written_ms: int
    expires_ms: int
    request: Request  # the miss that wrote it


@dataclass(slots=True)
class Served:
    miss: bool
    stale: bool  # a hit on inputs that changed significantly since (False when unknown)


class Cache:
    """The store and the answers still on their way, under one TTL policy and LLM latency."""

    def __init__(self, policy: TTLPolicy, latency_ms: int, conditional: bool = False) -> None:
        self.policy, self.latency_ms, self.conditional = policy, latency_ms, conditional
        self.store: dict[str, Stored] = {}
        self._pending: deque[tuple[str, Stored]] = deque()

    def land(self, until_ms: int | None = None) -> None:
        """Write the answers due by ``until_ms`` (all of them with None)."""
        pending = self._pending
        while pending and (until_ms is None or pending[0][1].written_ms <= until_ms):
            key, entry = pending.popleft()
            self.store[key] = entry

    def serve(self, request: Request) -> Served:
        """The rule, for one request (requests come in time order)."""
        self.land(request.t_ms)
        entry = self.store.get(request.key)
        if entry is not None:
            moved = False
            if request.inputs is not None:
                assert entry.request.inputs is not None
                moved = changed(entry.request.inputs, request.inputs, request.data_type)
            if not misses(request.t_ms, entry.expires_ms, moved, self.conditional):
                return Served(miss=False, stale=moved)
        written = request.t_ms + self.latency_ms
        ttl = self.policy.ttl(request.data_type, request.symbol, from_epoch_ms(written))
        self._pending.append((request.key, Stored(written, expires_at(written, ttl), request)))
        return Served(miss=True, stale=False)


def serve_all(cache: Cache, requests: Iterable[Request]) -> Iterator[tuple[Request, Served]]:
    for request in requests:
        yield request, cache.serve(request)


def run_reference(ctx: SimContext) -> Tally:
    """A generated workload: at each grid instant, every symbol asks for every data type."""
    scenario = ctx.scenario
    strategy = scenario.key_strategy
    arrays = ctx.inputs.arrays(scenario.symbols)
    tally = ctx.empty_tally()
    misses, stale = tally.misses, tally.stale
    assert stale is not None
    cache = Cache(ctx.policy, scenario.llm_latency_ms, conditional=strategy == "conditional")

    def requests() -> Iterator[Request]:
        for i, t in enumerate(ctx.grid.times_ms.tolist()):
            for row, symbol in enumerate(scenario.symbols):
                for d, data_type in enumerate(scenario.data_types):
                    key = entry_key(strategy, data_type, symbol, ctx.version, arrays, row, i, t)
                    yield Request(t, key, data_type, symbol, arrays.snapshot(row, i, data_type), (d, i))

    for request, served in serve_all(cache, requests()):
        d, i = request.tag
        misses[d, i] += served.miss
        stale[d, i] += served.stale

    tally.end_ms = end_instant(ctx.grid, scenario.llm_latency_ms)
    cache.land(tally.end_ms)
    tally.price_flat(scenario.cost.per_call_usd)
    tally.live = [
        end_entry(
            ctx, key, e.request.data_type, e.request.symbol, e.written_ms, e.expires_ms, e.request.inputs
        )
        for key, e in cache.store.items()
        if e.expires_ms >= tally.end_ms
    ]
    return tally
