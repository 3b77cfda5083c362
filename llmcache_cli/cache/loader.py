"""One decorated call, from lookup to stored answer, with stampede protection.

- In-process single flight: concurrent callers of one key share one task; the first caller's
  task looks the key up and, on a miss, calls the wrapped function once. The others await it.
  The shared task is shielded, so a caller that is cancelled does not cancel the others.
- Across processes: the lookup takes a short Redis lock (``SET lock NX PX``) when it misses. A
  caller that finds the lock held polls the key (10 ms, doubling to 200 ms) until the value
  appears, the lock is released or expires (it then takes it), or ``lock_wait`` runs out (it
  then calls the function anyway).
- A caller that shares another caller's call counts as a hit: no LLM call was made for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from llmcache_cli.cache.costs import end_usage, settle_usage, start_usage
from llmcache_cli.cache.counters import CounterDelta, hit_delta
from llmcache_cli.cache.entries import KeyInfo, Lookup, build_meta
from llmcache_cli.cache.service import CacheService
from llmcache_cli.cache.trace import TraceRecord, utc_now_iso

log = logging.getLogger("llmcache_cli.cache")
POLL_FIRST = 0.01
POLL_MAX = 0.2


@dataclass(frozen=True)
class CallSpec:
    """Everything the decorator worked out about one call."""

    key: str
    info: KeyInfo
    inputs: Any  # the call's arguments, for token estimates
    input_hash: str
    ttl: int | None
    model: str | None
    name: str  # the wrapped function, for messages
    refresh: bool = False
    offline: bool = False  # Redis already known to be unavailable for this call


@dataclass(frozen=True)
class Outcome:
    value: Any
    hit: bool
    cost_usd: float
    llm_latency_ms: float
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    ttl_seconds: int | None
    cache_latency_ms: float


async def load(service: CacheService, spec: CallSpec, compute: Callable[[], Awaitable[Any]]) -> Any:
    started = utc_now_iso()
    if spec.refresh or spec.offline:
        outcome = await _lead(service, spec, compute)
        _trace(service, spec, outcome, started)
        return outcome.value
    flying = service._inflight.get(spec.key)
    if flying is not None:
        return await _follow(service, spec, flying, started)
    task = service._spawn(_lead(service, spec, compute))
    service._inflight[spec.key] = task
    task.add_done_callback(functools.partial(_landed, service._inflight, spec.key))
    outcome = await asyncio.shield(task)
    _trace(service, spec, outcome, started)
    return outcome.value


def _landed(flights: dict[str, asyncio.Task[Any]], key: str, task: asyncio.Task[Any]) -> None:
    if flights.get(key) is task:
        del flights[key]
    if not task.cancelled():
        task.exception()  # retrieved here, so an error nobody awaited is not logged twice


async def _follow(service: CacheService, spec: CallSpec, task: asyncio.Task[Any], started: str) -> Any:
    waited = time.perf_counter()
    outcome: Outcome = await asyncio.shield(task)
    wait_ms = (time.perf_counter() - waited) * 1000
    service.stats.record_cache_latency(wait_ms)
    service.stats.record_hit(spec.info.namespace, outcome.cost_usd, outcome.llm_latency_ms)
    service._queue(spec.info.namespace, hit_delta(outcome.cost_usd, outcome.llm_latency_ms, wait_ms))
    shared = dataclasses.replace(outcome, hit=True, ttl_seconds=None, cache_latency_ms=wait_ms)
    _trace(service, spec, shared, started)
    return outcome.value


def _from_entry(found: Lookup, cache_ms: float) -> Outcome:
    meta = found.meta or {}
    return Outcome(
        value=found.value,
        hit=True,
        cost_usd=found.cost_usd,
        llm_latency_ms=found.llm_latency_ms,
        model=meta.get("model") if isinstance(meta.get("model"), str) else None,
        input_tokens=_int_or_none(meta.get("input_tokens")),
        output_tokens=_int_or_none(meta.get("output_tokens")),
        ttl_seconds=None,
        cache_latency_ms=cache_ms,
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _wait_for_other(service: CacheService, spec: CallSpec, token: str) -> Lookup:
    """Another process holds the lock: poll until its answer lands or the lock frees up."""
    deadline = time.monotonic() + service.lock_wait
    delay = POLL_FIRST
    while time.monotonic() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_MAX)
        found = await service._lookup(spec.key, count="hits", lock_token=token)
        if found.hit or found.failed or found.lock != "held":
            return found
    log.warning("waited %gs for another caller of %s: calling it too", service.lock_wait, spec.key)
    return Lookup(hit=False)


async def _lead(service: CacheService, spec: CallSpec, compute: Callable[[], Awaitable[Any]]) -> Outcome:
    cache_ms = 0.0
    token = uuid.uuid4().hex
    found = Lookup(hit=False, failed=spec.offline)
    if not (spec.refresh or spec.offline):
        found = await service._lookup(spec.key, count="hits", lock_token=token)
        cache_ms += found.latency_ms
        if found.hit:
            return _from_entry(found, cache_ms)
        if found.lock == "held":
            waited = time.perf_counter()
            found = await _wait_for_other(service, spec, token)
            cache_ms += (time.perf_counter() - waited) * 1000
            if found.hit:
                return _from_entry(found, cache_ms)
    holding = found.lock == "acquired"
    namespace = spec.info.namespace
    if not spec.refresh:
        service.stats.record_miss(namespace)
    if found.failed:
        service.stats.errors += 1
    miss = CounterDelta(misses=0 if spec.refresh else 1)
    try:
        value, usage, llm_ms = await _call(compute)
    except BaseException:
        if holding:
            await service.release(spec.key, token)
        service._queue(namespace, miss)
        raise
    cost = settle_usage(service.settings, usage, spec.inputs, value, spec.model)
    service.stats.record_llm_call(cost.cost_usd, llm_ms)
    miss.cost_spent_usd = cost.cost_usd
    ttl: int | None = None
    if found.failed:
        service._queue(namespace, miss)
    else:
        meta = build_meta(
            {
                "model": cost.model,
                "input_tokens": cost.input_tokens,
                "output_tokens": cost.output_tokens,
                "cost_usd": cost.cost_usd,
                "latency_ms": round(llm_ms, 3),
                "input_hash": spec.input_hash,
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
            log.warning("the result of %s cannot be cached (not JSON: %s): returned uncached", spec.name, exc)
            service._queue(namespace, miss)
            if holding:
                await service.release(spec.key, token)
        cache_ms += (time.perf_counter() - stored) * 1000
    return Outcome(
        value, False, cost.cost_usd, llm_ms, cost.model, cost.input_tokens, cost.output_tokens, ttl, cache_ms
    )


async def _call(compute: Callable[[], Awaitable[Any]]) -> tuple[Any, Any, float]:
    usage, token = start_usage()
    started = time.perf_counter()
    try:
        value = await compute()
    finally:
        end_usage(token)
    return value, usage, (time.perf_counter() - started) * 1000


def _trace(service: CacheService, spec: CallSpec, outcome: Outcome, started: str) -> None:
    if service._trace is None:
        return
    service._trace.write(
        TraceRecord(
            ts=started,
            key=spec.key,
            namespace=spec.info.namespace,
            symbol=spec.info.symbol,
            data_type=spec.info.data_type,
            hit=outcome.hit,
            model=outcome.model,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            cost_usd=round(outcome.cost_usd, 10),
            latency_ms=round(outcome.llm_latency_ms, 3),
            cache_latency_ms=round(outcome.cache_latency_ms, 3),
            ttl_seconds=outcome.ttl_seconds,
        )
    )
