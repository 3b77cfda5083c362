"""One cached call, from key to answer: the only code that decides hit or miss.

The hit path does what a hit needs and nothing more: the near cache (when on), else one
auto-pipelined read (``lookups.py``: one ``MGET`` shared by every lookup of the event-loop
turn), the JSON decode, and in-process counting (the live Redis counters are flushed in batches
by the service). No task, no lock, no timestamp unless the trace is on.

Only a miss pays for stampede protection:

- in-process single flight: concurrent callers of one key share one task, shielded so that a
  cancelled caller does not cancel the others; a caller that shares another's LLM call counts
  as a hit (no LLM call was made for it);
- across processes, a short Redis lock taken with ``SET lock NX PX`` and, in the same round
  trip, a second ``GET`` of the key: whoever got the lock sees any answer stored before the
  previous holder let go. A caller that finds the lock held polls (10 ms, doubling to 200 ms)
  until the answer appears, the lock frees up (it then takes it) or ``lock_wait`` runs out (it
  then calls the function anyway).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from llmcache_cli.cache.connection import FAILED
from llmcache_cli.cache.costs import measured_call, settle_usage
from llmcache_cli.cache.counters import CounterDelta
from llmcache_cli.cache.entries import KeyInfo, Lookup, build_meta
from llmcache_cli.cache.near import MISSING
from llmcache_cli.cache.trace import TraceRecord, utc_now_iso
from llmcache_cli.envelope import decode_entry, meta_number
from llmcache_cli.keys import input_hash

if TYPE_CHECKING:
    from llmcache_cli.cache.breaker import CircuitBreaker
    from llmcache_cli.cache.counters import CacheStats, PendingCounters
    from llmcache_cli.cache.lookups import LookupPipeline
    from llmcache_cli.cache.near import NearCache
    from llmcache_cli.cache.redis_ops import RedisOps
    from llmcache_cli.cache.trace import TraceWriter
    from llmcache_cli.cache.tracking import Tracker
    from llmcache_cli.config import Settings

log = logging.getLogger("llmcache_cli.cache")
HIT, NEAR, ABSENT, FAILED_READ = 0, 1, 2, 3  # what ``CallPath.read`` found
POLL_FIRST = 0.01
POLL_MAX = 0.2


class CallSpec:
    """What the decorator worked out about one call. ``inputs`` are the bound arguments (for
    token estimates and the meta's input hash, both needed only on a miss)."""

    __slots__ = ("info", "inputs", "key", "model", "name", "refresh", "ttl")

    def __init__(
        self,
        key: str,
        info: KeyInfo,
        inputs: Any,
        ttl: int | None,
        model: str | None,
        name: str,
        refresh: bool = False,
    ) -> None:
        self.key = key
        self.info = info
        self.inputs = inputs
        self.ttl = ttl
        self.model = model
        self.name = name
        self.refresh = refresh


class Answer:
    """How one call was answered, for the trace and for followers of a shared call."""

    __slots__ = (
        "cache_ms",
        "cost_usd",
        "hit",
        "input_tokens",
        "llm_ms",
        "model",
        "near",
        "output_tokens",
        "ttl",
        "value",
    )

    def __init__(
        self, value: Any, hit: bool, cost_usd: float, llm_ms: float, cache_ms: float, **rest: Any
    ) -> None:
        self.value = value
        self.hit = hit
        self.cost_usd = cost_usd
        self.llm_ms = llm_ms
        self.cache_ms = cache_ms
        self.model: str | None = rest.get("model")
        self.input_tokens: int | None = rest.get("input_tokens")
        self.output_tokens: int | None = rest.get("output_tokens")
        self.ttl: int | None = rest.get("ttl")
        self.near: bool = rest.get("near", False)


def _meta_int(meta: dict[str, Any] | None, name: str) -> int | None:
    value = (meta or {}).get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _from_meta(value: Any, meta: dict[str, Any] | None, cache_ms: float, near: bool = False) -> Answer:
    model = (meta or {}).get("model")
    return Answer(
        value,
        True,
        meta_number(meta, "cost_usd") or 0.0,
        meta_number(meta, "latency_ms") or 0.0,
        cache_ms,
        model=model if isinstance(model, str) else None,
        input_tokens=_meta_int(meta, "input_tokens"),
        output_tokens=_meta_int(meta, "output_tokens"),
        near=near,
    )


class CallOwner(Protocol):
    """What the call path needs of its service (``CacheService`` is one): the parts it reads
    and the counting and storing it asks for. Nothing else reaches into the service."""

    settings: Settings
    stats: CacheStats
    breaker: CircuitBreaker
    ops: RedisOps
    pending: PendingCounters
    pipeline: LookupPipeline
    near: NearCache | None
    tracker: Tracker | None
    trace: TraceWriter | None
    lock_ttl: float
    lock_wait: float

    def count_hit(
        self, namespace: str, cost_usd: float, llm_ms: float, cache_ms: float, near: bool
    ) -> None: ...

    def count_miss(self, namespace: str, *, failed: bool = False) -> None: ...

    def queue(self, namespace: str, delta: CounterDelta) -> None: ...

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]: ...

    async def store(
        self,
        key: str,
        info: KeyInfo,
        value: Any,
        meta: dict[str, Any],
        ttl: int | None,
        delta: CounterDelta,
        lock_token: str | None = None,
    ) -> int | None: ...


class CallPath:
    """The service's call path. Its public surface is ``call``, ``read`` and ``lookup``."""

    def __init__(self, service: CallOwner) -> None:
        self.service = service
        self.inflight: dict[str, asyncio.Task[Answer]] = {}

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, key: str, namespace: str) -> tuple[int, Any, Any]:
        """One key's entry, counting nothing: (state, value, meta), state one of ``HIT``,
        ``NEAR`` (a hit from process memory), ``ABSENT``, ``FAILED_READ`` (Redis could not be
        asked). A plain tuple: this is the hot path."""
        service = self.service
        near = service.near
        if near is not None:
            if not service.breaker.healthy:
                if near.ready or len(near):
                    service.tracker.lost()  # type: ignore[union-attr]
            else:
                found = near.get(key)
                if found is not MISSING:
                    return NEAR, found[0], found[1]
                service.tracker.want(namespace)  # type: ignore[union-attr]
        raw, pttl, seq = await service.pipeline.read(key)
        if raw is None:
            return ABSENT, None, None
        if raw is FAILED:
            return FAILED_READ, None, None
        entry = decode_entry(raw)
        if entry.kind in ("text", "binary"):
            log.warning("cache entry %s is not JSON: treated as a miss", key)
            return ABSENT, None, None
        if near is not None:
            near.put(key, namespace, (entry.result, entry.meta), pttl, seq)
        return HIT, entry.result, entry.meta

    async def lookup(self, key: str, info: KeyInfo) -> Lookup:
        """``CacheService.lookup``: read, and count a hit or a miss."""
        service = self.service
        started = time.perf_counter()
        state, value, meta = await self.read(key, info.namespace)
        latency = (time.perf_counter() - started) * 1000
        service.stats.record_cache_latency(latency)
        if state <= NEAR:
            found = Lookup(hit=True, value=value, meta=meta, latency_ms=latency)
            service.count_hit(info.namespace, found.cost_usd, found.llm_latency_ms, latency, state == NEAR)
            return found
        service.count_miss(info.namespace, failed=state == FAILED_READ)
        return Lookup(hit=False, failed=state == FAILED_READ, latency_ms=latency)

    # -- decorated calls -------------------------------------------------------------------------

    async def call(self, spec: CallSpec, compute: Callable[[], Awaitable[Any]]) -> Any:
        service = self.service
        started_at = utc_now_iso() if service.trace is not None else ""
        if spec.refresh:  # no lookup, no lock, no sharing: a fresh answer, stored
            answer = await self._lead(spec, compute, offline=False)
            self._trace(spec, answer, started_at)
            return answer.value
        started = time.perf_counter()
        state, value, meta = await self.read(spec.key, spec.info.namespace)
        if state <= NEAR:
            cache_ms = (time.perf_counter() - started) * 1000
            service.stats.record_cache_latency(cache_ms)
            cost = meta_number(meta, "cost_usd") or 0.0
            llm_ms = meta_number(meta, "latency_ms") or 0.0
            service.count_hit(spec.info.namespace, cost, llm_ms, cache_ms, state == NEAR)
            if service.trace is not None:
                self._trace(spec, _from_meta(value, meta, cache_ms, state == NEAR), started_at)
            return value
        offline = state == FAILED_READ
        flying = self.inflight.get(spec.key)
        if flying is not None:
            return await self._follow(spec, flying, started_at)
        task = service.spawn(self._lead(spec, compute, offline))
        self.inflight[spec.key] = task
        task.add_done_callback(functools.partial(_landed, self.inflight, spec.key))
        answer = await asyncio.shield(task)
        self._trace(spec, answer, started_at)
        return answer.value

    async def _follow(self, spec: CallSpec, task: asyncio.Task[Answer], started_at: str) -> Any:
        service = self.service
        waited = time.perf_counter()
        answer = await asyncio.shield(task)
        wait_ms = (time.perf_counter() - waited) * 1000
        service.stats.record_cache_latency(wait_ms)
        service.count_hit(spec.info.namespace, answer.cost_usd, answer.llm_ms, wait_ms, False)
        if service.trace is not None:
            shared = Answer(
                answer.value,
                True,
                answer.cost_usd,
                answer.llm_ms,
                wait_ms,
                model=answer.model,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
            )
            self._trace(spec, shared, started_at)
        return answer.value

    async def _lead(self, spec: CallSpec, compute: Callable[[], Awaitable[Any]], offline: bool) -> Answer:
        service = self.service
        namespace = spec.info.namespace
        token = uuid.uuid4().hex
        cache_ms = 0.0
        lock = "none"
        if not (offline or spec.refresh):
            started = time.perf_counter()
            found, lock = await service.ops.lock_and_read(spec.key, token, service.lock_ttl, service.pending)
            if lock == "held":
                found, lock = await self._wait_for_other(spec, token)
            cache_ms = (time.perf_counter() - started) * 1000
            if found.hit:
                if lock == "acquired":
                    service.spawn(service.ops.release(spec.key, token, service.pending))
                service.count_hit(namespace, found.cost_usd, found.llm_latency_ms, cache_ms, False)
                return _from_meta(found.value, found.meta, cache_ms)
            offline = found.failed
        holding = lock == "acquired"
        miss = CounterDelta(misses=0 if spec.refresh else 1)
        if not spec.refresh:
            service.stats.record_miss(namespace)
        if offline:
            service.stats.errors += 1
        try:
            value, usage, llm_ms = await measured_call(compute)
        except BaseException:
            if holding:
                await service.ops.release(spec.key, token, service.pending)
            service.queue(namespace, miss)
            raise
        cost = settle_usage(service.settings, usage, spec.inputs, value, spec.model)
        service.stats.record_llm_call(cost.cost_usd, llm_ms)
        miss.cost_spent_usd = cost.cost_usd
        ttl: int | None = None
        if offline:
            service.queue(namespace, miss)
        else:
            meta = build_meta(
                {
                    "model": cost.model,
                    "input_tokens": cost.input_tokens,
                    "output_tokens": cost.output_tokens,
                    "cost_usd": cost.cost_usd,
                    "latency_ms": round(llm_ms, 3),
                    "input_hash": input_hash(spec.inputs),
                    **({"usage_estimated": True} if cost.estimated else {}),
                },
                spec.info.data_type,
            )
            stored = time.perf_counter()
            try:
                ttl = await service.store(
                    spec.key, spec.info, value, meta, spec.ttl, miss, token if holding else None
                )
            except (TypeError, ValueError) as exc:
                log.warning(
                    "the result of %s cannot be cached (not JSON: %s): returned uncached", spec.name, exc
                )
                service.queue(namespace, miss)
                if holding:
                    await service.ops.release(spec.key, token, service.pending)
            cache_ms += (time.perf_counter() - stored) * 1000
        return Answer(
            value,
            False,
            cost.cost_usd,
            llm_ms,
            cache_ms,
            model=cost.model,
            input_tokens=cost.input_tokens,
            output_tokens=cost.output_tokens,
            ttl=ttl,
        )

    async def _wait_for_other(self, spec: CallSpec, token: str) -> tuple[Lookup, str]:
        """Another process holds the lock: poll until its answer lands or the lock frees up."""
        service = self.service
        deadline = time.monotonic() + service.lock_wait
        delay = POLL_FIRST
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)
            found, lock = await service.ops.lock_and_read(spec.key, token, service.lock_ttl, service.pending)
            if found.hit or found.failed or lock != "held":
                return found, lock
        log.warning("waited %gs for another caller of %s: calling it too", service.lock_wait, spec.key)
        return Lookup(hit=False), "none"

    def _trace(self, spec: CallSpec, answer: Answer, started_at: str) -> None:
        trace = self.service.trace
        if trace is None:
            return
        trace.write(
            TraceRecord(
                ts=started_at,
                key=spec.key,
                namespace=spec.info.namespace,
                symbol=spec.info.symbol,
                data_type=spec.info.data_type,
                hit=answer.hit,
                model=answer.model,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
                cost_usd=round(answer.cost_usd, 10),
                latency_ms=round(answer.llm_ms, 3),
                cache_latency_ms=round(answer.cache_ms, 3),
                ttl_seconds=answer.ttl,
                near=answer.near,
            )
        )


def _landed(flights: dict[str, asyncio.Task[Any]], key: str, task: asyncio.Task[Any]) -> None:
    if flights.get(key) is task:
        del flights[key]
    if not task.cancelled():
        task.exception()  # retrieved here, so an error nobody awaited is not logged twice
