"""Fault injection for the library: ``@cached`` and ``CacheService`` against real servers that
die, restart, freeze, fill up or are read-only replicas (issue 8).

What the library promises (docs/design.md, "The library"): the wrapped function always answers; Redis trouble
is logged (redacted, not once per call) and costs at most a few timeouts before the circuit
breaker opens; the service reconnects by itself when Redis is back.
(Refused and silent servers from the start are covered in tests/cache/.)
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Coroutine
from typing import Any

import pytest
import redis

from llmcache_cli import CacheService, cached
from llmcache_cli.config import Settings
from tests.reliability.conftest import Servers, wait_for
from tests.support.servers import RedisServer

pytestmark = pytest.mark.redis


class Analyst:
    """A bot's LLM call behind ``@cached``; ``calls`` counts the real (uncached) calls."""

    def __init__(self, cache: CacheService) -> None:
        self.cache = cache
        self.calls = 0

    @cached(ttl=600, data_type="technical")
    async def analyze(self, symbol: str) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(0)
        return {"symbol": symbol, "signal": "hold"}


def service(url: str, **kw: Any) -> CacheService:
    return CacheService(url, settings=Settings(), **kw)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_server_restarted_under_a_running_service(servers: Servers, caplog: pytest.LogCaptureFixture) -> None:
    """Kill the server under a running service: calls keep answering through the function and
    the breaker opens (later calls do not wait for Redis). Start a new server on the same port:
    after the breaker's cool-down the same service stores and hits again, by itself."""
    caplog.set_level(logging.WARNING, logger="llmcache_cli")
    server = servers.start()

    async def go() -> dict[str, Any]:
        cache = service(server.url, timeout=0.5, failure_threshold=2, reset_timeout=0.5)
        bot = Analyst(cache)
        try:
            assert await bot.analyze("AAPL") == {"symbol": "AAPL", "signal": "hold"}
            assert await bot.analyze("AAPL") == {"symbol": "AAPL", "signal": "hold"}
            assert bot.calls == 1  # the second call was a hit
            assert server.process is not None
            server.process.kill()
            server.process.wait()
            down = [await bot.analyze(s) for s in ("AAPL", "MSFT", "TSLA", "AAPL", "MSFT")]
            assert [d["symbol"] for d in down] == ["AAPL", "MSFT", "TSLA", "AAPL", "MSFT"]
            calls_while_down = bot.calls - 1
            opened = cache.breaker.stats.opened
            servers.start(port=server.port)  # a new, empty server on the same port
            await asyncio.sleep(0.6)  # past reset_timeout: the next call is the probe
            back = [await bot.analyze("AAPL") for _ in range(3)]
            return {
                "calls_while_down": calls_while_down,
                "opened": opened,
                "back": back,
                "calls_after": bot.calls - 1 - calls_while_down,
                "state": cache.breaker.state.value,
                "stats": cache.stats.to_dict(),
            }
        finally:
            await cache.aclose()

    result = run(go())
    stored = servers.started[-1].admin().get("technical:stock:AAPL:v1")
    assert result["calls_while_down"] == 5  # nothing cached while down: every call ran
    assert result["opened"] == 1  # and the breaker opened once
    assert result["back"] == [{"symbol": "AAPL", "signal": "hold"}] * 3
    assert result["calls_after"] == 1  # the new server was empty: one miss, then hits
    assert result["state"] == "closed" and stored is not None
    assert any("unreachable" in w for w in warnings_of(caplog))
    assert any("answering again" in w for w in warnings_of(caplog))
    assert not any("script" in w for w in warnings_of(caplog))  # reloaded on the new server


def test_server_killed_during_concurrent_calls(servers: Servers) -> None:
    """SIGKILL the server while 200 coroutines are calling (their lookups spread over many
    event-loop turns, so over many pipelined batches): every call still returns its answer, no
    exception reaches the caller, and the breaker bounds the wait."""
    server = servers.start()

    async def go() -> tuple[list[dict[str, Any]], CacheService, float]:
        cache = service(server.url, timeout=0.5, failure_threshold=3, reset_timeout=60)
        bot = Analyst(cache)
        killed = asyncio.Event()
        await bot.analyze("S0")  # connected, one entry stored

        async def caller(i: int) -> dict[str, Any]:
            await asyncio.sleep(i * 0.001)
            if i == 100:
                assert server.process is not None
                server.process.kill()
                killed.set()
            return await bot.analyze(f"S{i % 40}")

        started = time.monotonic()
        try:
            results = await asyncio.gather(*(caller(i) for i in range(200)))
        finally:
            await cache.aclose()
        assert killed.is_set()
        return list(results), cache, time.monotonic() - started

    results, cache, elapsed = run(go())
    assert [r["symbol"] for r in results] == [f"S{i % 40}" for i in range(200)]
    assert cache.breaker.stats.opened >= 1
    assert elapsed < 3 * cache._link.deadline + 5, f"{elapsed:.1f}s"


def test_server_frozen_mid_run_costs_a_few_timeouts(servers: Servers) -> None:
    """SIGSTOP the server (connections open, no answers) between calls: the calls in flight
    pay the timeout once, together; then the breaker answers at once; every call returns."""
    server = servers.start()

    async def go() -> tuple[list[dict[str, Any]], CacheService, float]:
        cache = service(server.url, timeout=0.3, failure_threshold=2, reset_timeout=60)
        bot = Analyst(cache)
        try:
            warm = [await bot.analyze(f"S{i}") for i in range(5)]
            assert server.process is not None
            server.process.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            frozen = list(await asyncio.gather(*(bot.analyze(f"S{i % 10}") for i in range(50))))
            frozen += [await bot.analyze(f"S{i}") for i in range(20)]
            return warm + frozen, cache, time.monotonic() - started
        finally:
            await cache.aclose()

    results, cache, elapsed = run(go())
    assert len(results) == 75 and all(r["signal"] == "hold" for r in results)
    # The 10 distinct keys in flight when Redis froze time out together (once, in parallel);
    # the breaker then opens and the 20 calls after them do not wait at all.
    assert cache.breaker.stats.timeouts <= 10 and cache.breaker.stats.opened == 1
    assert cache.breaker.stats.rejected >= 20
    assert elapsed < 3 * cache._link.deadline + 5, f"{elapsed:.1f}s"


def test_maxmemory_reached_hits_still_served_writes_logged(
    redis_url: str, real_redis: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """maxmemory reached with noeviction: entries already cached are still served (the lookup
    does not fail on its counter writes); new answers come from the function and are returned;
    the failed writes are logged, once, not once per call; the breaker stays closed (Redis is
    alive)."""
    caplog.set_level(logging.WARNING, logger="llmcache_cli")

    async def go() -> tuple[Analyst, list[Any]]:
        cache = service(redis_url, failure_threshold=1)
        bot = Analyst(cache)
        try:
            await bot.analyze("AAPL")
            real_redis.config_set("maxmemory", 1)
            try:
                out = [await bot.analyze("AAPL") for _ in range(20)]
                out += [await bot.analyze(f"NEW{i}") for i in range(20)]
            finally:
                real_redis.config_set("maxmemory", 0)
            return bot, out
        finally:
            await cache.aclose()

    bot, out = run(go())
    assert out[:20] == [{"symbol": "AAPL", "signal": "hold"}] * 20
    assert [o["symbol"] for o in out[20:]] == [f"NEW{i}" for i in range(20)]
    assert bot.calls == 1 + 20  # AAPL once; each new symbol once (nothing could be stored)
    assert bot.cache.breaker.stats.opened == 0
    warned = warnings_of(caplog)
    assert any("out of memory" in w for w in warned)
    assert len(warned) <= 3, warned
    assert not real_redis.exists("technical:stock:NEW0:v1")


def replica_of(servers: Servers) -> tuple[RedisServer, RedisServer]:
    primary = servers.start("--repl-diskless-sync-delay", "0")
    copy = servers.start("--replicaof", "127.0.0.1", str(primary.port))
    reader = copy.admin()
    wait_for(lambda: reader.info("replication").get("master_link_status") == "up", what="replication")
    return primary, copy


def test_read_only_replica_serves_hits_and_logs_refused_writes(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    """A service pointed at a replica: what the primary cached is a hit; a new answer is
    computed and returned, its write refused (READONLY) and logged once; no exception."""
    caplog.set_level(logging.WARNING, logger="llmcache_cli")
    primary, copy = replica_of(servers)

    async def write_on_primary() -> None:
        async with service(primary.url) as cache:
            await Analyst(cache).analyze("AAPL")

    run(write_on_primary())
    reader = copy.admin()
    wait_for(lambda: reader.exists("technical:stock:AAPL:v1") == 1, what="the entry to replicate")

    async def go() -> tuple[Analyst, list[Any]]:
        cache = service(copy.url)
        bot = Analyst(cache)
        try:
            out = [await bot.analyze("AAPL") for _ in range(5)]
            out += [await bot.analyze("MSFT") for _ in range(5)]
            return bot, out
        finally:
            await cache.aclose()

    bot, out = run(go())
    assert out == [{"symbol": "AAPL", "signal": "hold"}] * 5 + [{"symbol": "MSFT", "signal": "hold"}] * 5
    assert bot.calls == 5  # AAPL always a hit; MSFT computed each time (it cannot be stored)
    assert bot.cache.breaker.stats.opened == 0
    warned = warnings_of(caplog)
    assert any("read-only" in w for w in warned) and len(warned) <= 3, warned
    assert not reader.exists("technical:stock:MSFT:v1")
