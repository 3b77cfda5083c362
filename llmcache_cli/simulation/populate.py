"""``--populate URL``: write the simulated cache's end state into a real Redis, through the library.

- every entry live at the end of the simulation, with ``CacheService.set`` (the library's JSON
  envelope and meta, its symbol index), for the TTL it had left then (whole seconds, at least
  1: the clock starts again now);
- the live counters (``llmcache:stats:{namespace}``) with the run's hits, misses, money spent
  and saved and time saved per data type, as the library would have counted them
  (``hit_delta``). ``set`` already counts the written entries' cost as spent; the rest is added
  with the library's own counter commands, over a client from ``llmcache_cli.client``.

So ``llmcache stats``, ``ttl``, ``large-keys``, ``get`` and ``invalidate`` have a realistic
keyspace to work on. Nothing is deleted first.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from llmcache_cli.cache.counters import CounterDelta, hit_delta
from llmcache_cli.cache.service import CacheService
from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.config import Settings
from llmcache_cli.errors import RedisOperationError
from llmcache_cli.keys import build_key, input_hash, parse_key
from llmcache_cli.simulation.summary import SimulationResult
from llmcache_cli.simulation.tally import EndEntry
from llmcache_cli.simulation.workload import epoch_ms, from_epoch_ms

CONCURRENCY = 64


@dataclass(frozen=True)
class Populated:
    url: str  # redacted
    entries: int
    namespaces: int


def answer(entry: EndEntry) -> dict[str, Any]:
    """A stand-in for the LLM's answer (the simulation never calls one)."""
    return {
        "symbol": entry.symbol,
        "data_type": entry.data_type,
        "summary": f"simulated {entry.data_type} answer for {entry.symbol or entry.key}",
        "recommendation": "hold",
        "confidence": 0.5,
        "simulated": True,
    }


def meta(entry: EndEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": entry.model,
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
        "cost_usd": entry.cost_usd,
        "latency_ms": entry.latency_ms,
        "created_at": from_epoch_ms(entry.written_ms).isoformat(),
        "data_type": entry.data_type,
        "input_hash": input_hash(entry.inputs) if entry.inputs is not None else None,
        "simulated": True,
    }
    if entry.inputs is not None:
        out["inputs"] = entry.inputs
    return out


def counter_deltas(
    result: SimulationResult, llm_latency_ms: float, cache_latency_ms: float
) -> dict[str, CounterDelta]:
    """What the live counters of each namespace would hold after this run."""
    out: dict[str, CounterDelta] = {}
    for row in result.per_data_type:
        f = row.figures
        per_call = f.cost_without_cache_usd / f.requests if f.requests else 0.0
        delta = hit_delta(per_call, llm_latency_ms, cache_latency_ms, f.hits)
        delta.misses = f.misses
        delta.cost_spent_usd = f.cost_with_cache_usd
        out[row.data_type] = delta
    return out


def populate_redis(
    result: SimulationResult, url: str, settings: Settings, timeout: float | None = None
) -> Populated:
    """``timeout``: connect and socket timeout in seconds (the global ``--timeout``; default
    the configured one)."""
    options = ClientOptions.from_flags(url, settings.timeout_seconds if timeout is None else timeout)
    handle = connect(options)  # a clear error (exit 1) when the server cannot be reached
    try:
        latency = float(result.parameters["llm_latency_ms"])
        deltas = counter_deltas(result, latency, float(result.parameters["cache_latency_ms"]))
        end_ms = epoch_ms(result.end_at)
        written = asyncio.run(_write_entries(result.live, options, settings, end_ms))
        for namespace, spent in written.items():  # ``set`` counted these already
            deltas.setdefault(namespace, CounterDelta()).cost_spent_usd -= spent
        commands = [cmd for ns, delta in sorted(deltas.items()) for cmd in delta.commands(ns)]
        with handle.translated():
            pipe = handle.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            pipe.execute()
    finally:
        handle.close()
    return Populated(options.url.redacted, len(result.live), len(deltas))


async def _write_entries(
    entries: tuple[EndEntry, ...], options: ClientOptions, settings: Settings, end_ms: int
) -> dict[str, float]:
    """Write the entries; the cost ``set`` counted as spent, per namespace. Keys get a cluster
    hash tag when the service's own rule says so (``CacheService.hash_tags``)."""
    spent: dict[str, float] = defaultdict(float)
    failed = 0
    async with CacheService(options.url.url, settings=settings, timeout=options.timeout) as cache:
        await cache.connect()  # finds out whether the server is a cluster
        hash_tag = cache.hash_tags()
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(entry: EndEntry) -> bool:
            key = entry.key
            parsed = parse_key(key)
            if hash_tag and parsed is not None and not parsed.hash_tagged:
                key = build_key(
                    parsed.namespace, parsed.entity, parsed.identifier, *parsed.qualifiers, hash_tag=True
                )
            remaining = max(1, -(-(entry.expires_ms - end_ms) // 1000))
            async with gate:
                return await cache.set(key, answer(entry), remaining, meta=meta(entry))

        results = await asyncio.gather(*(one(e) for e in entries))
        for entry, ok in zip(entries, results, strict=True):
            if ok:
                spent[cache.describe_key(entry.key).namespace] += entry.cost_usd
            else:
                failed += 1
    if failed:
        raise RedisOperationError(
            f"could not write {failed} of {len(entries)} entries to Redis at {options.url.redacted}",
            hint="is the server out of memory or refusing writes (ACL)? see the server log",
        )
    return dict(spent)
