"""CacheService against the real redis-server: envelope, falsy hits, TTLs, counters, index."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import redis

from llmcache_cli import CacheService
from llmcache_cli.config import Settings
from llmcache_cli.keys import STATS_FIELDS, lock_key, stats_key, symbol_index_key
from tests.cache.conftest import run
from tests.support.servers import RedisServer, free_port

pytestmark = pytest.mark.redis

MISSING = object()


class FixedPolicy:
    """A stand-in TTL policy that records what it was asked."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.asked: list[tuple[str, str | None]] = []

    def ttl(self, data_type: str, symbol: str | None, at: dt.datetime) -> int:
        assert at.tzinfo is not None
        self.asked.append((data_type, symbol))
        return self.seconds


def counters(client: redis.Redis, namespace: str) -> dict[str, float]:
    raw = client.hgetall(stats_key(namespace))
    assert set(raw) <= {f.encode() for f in STATS_FIELDS}
    return {k.decode(): float(v) for k, v in raw.items()}


@pytest.mark.parametrize("value", [{}, [], 0, False, "", None, {"rating": "buy"}])
def test_falsy_values_are_hits(redis_url: str, settings: Settings, value: Any) -> None:
    async def go() -> tuple[Any, bool]:
        async with CacheService(redis_url, settings=settings) as cache:
            assert await cache.set("analysis:stock:AAPL:v1", value, ttl=60)
            found = await cache.lookup("analysis:stock:AAPL:v1")
            return await cache.get("analysis:stock:AAPL:v1", MISSING), found.hit

    got, hit = run(go())
    assert hit and got == value and got is not MISSING


def test_envelope_and_meta_are_stored_as_json(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    meta = {"model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.006}

    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.set("sentiment:stock:MSFT:v1", {"score": 0.4}, ttl=120, meta=meta)

    run(go())
    doc = json.loads(real_redis.get("sentiment:stock:MSFT:v1"))
    assert doc["result"] == {"score": 0.4}
    assert doc["meta"]["model"] == "claude-sonnet-4-5" and doc["meta"]["cost_usd"] == 0.006
    assert doc["meta"]["data_type"] == "sentiment"
    created = dt.datetime.fromisoformat(doc["meta"]["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    assert 0 < real_redis.ttl("sentiment:stock:MSFT:v1") <= 120


def test_plain_json_is_a_hit_and_text_a_miss(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    real_redis.set("analysis:stock:AAPL:plain", json.dumps([1, 2]))
    real_redis.set("analysis:stock:AAPL:text", b"not json {")
    real_redis.hset("analysis:stock:AAPL:hash", "f", "v")

    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:
            return [
                await cache.get("analysis:stock:AAPL:plain", MISSING),
                await cache.get("analysis:stock:AAPL:text", MISSING),
                await cache.get("analysis:stock:AAPL:hash", MISSING),  # WRONGTYPE: a miss
            ]

    assert run(go()) == [[1, 2], MISSING, MISSING]
    assert counters(real_redis, "analysis") == {"hits": 1, "misses": 2}


def test_ttl_comes_from_the_policy_by_data_type(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    policy = FixedPolicy(777)

    async def go() -> None:
        async with CacheService(redis_url, settings=settings, policy=policy) as cache:
            await cache.set("technical:stock:TSLA:v1", {"rsi": 70})
            await cache.set("my_notes:fn:x:v1", "n")

    run(go())
    assert policy.asked == [("technical", "TSLA"), ("analysis", None)]
    assert 770 <= real_redis.ttl("technical:stock:TSLA:v1") <= 777


def test_default_policy_is_the_configured_one(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.set("earnings:stock:AAPL:v1", {"eps": 1.2})
            await cache.set("earnings:stock:TSLA:v1", {"eps": 0.5})

    run(go())
    # market-aware: earnings use the base table (one week), halved for a volatile symbol.
    assert 604790 <= real_redis.ttl("earnings:stock:AAPL:v1") <= 604800
    assert 302390 <= real_redis.ttl("earnings:stock:TSLA:v1") <= 302400


@pytest.mark.parametrize("use_scripts", [True, False], ids=["lua", "pipelines"])
def test_counters_hits_misses_and_money(
    redis_url: str, real_redis: redis.Redis, settings: Settings, use_scripts: bool
) -> None:
    async def go() -> CacheService:
        async with CacheService(redis_url, settings=settings, use_scripts=use_scripts) as cache:
            meta = {"cost_usd": 0.25, "latency_ms": 900.0}
            await cache.set("fundamental:stock:IBM:v1", {"pe": 20}, ttl=60, meta=meta)
            assert await cache.get("fundamental:stock:IBM:v1") == {"pe": 20}
            assert await cache.get("fundamental:stock:IBM:v1") == {"pe": 20}
            assert await cache.get("fundamental:stock:NOPE:v1") is None
            assert await cache.get_many(["fundamental:stock:IBM:v1", "fundamental:stock:X:v1"]) == {
                "fundamental:stock:IBM:v1": {"pe": 20}
            }
            return cache

    cache = run(go())
    got = counters(real_redis, "fundamental")
    assert got["hits"] == 3 and got["misses"] == 2
    assert got["cost_spent_usd"] == pytest.approx(0.25)
    assert got["cost_saved_usd"] == pytest.approx(0.75)
    assert 0 < got["time_saved_ms"] <= 3 * 900
    assert cache.stats.hits == 3 and cache.stats.misses == 2
    # A hit counts in the "without cache" total at what it would have cost.
    assert cache.stats.cost_without_cache_usd == pytest.approx(1.0)
    assert cache.stats.cost_with_cache_usd == pytest.approx(0.25)


def commands(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the last ``CONFIG RESETSTAT``."""
    return {name[len("cmdstat_") :]: int(v["calls"]) for name, v in client.info("commandstats").items()}


def test_warm_hits_cost_one_lookup_command_each(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.set("analysis:stock:AAPL:v1", 1, ttl=60, meta={"cost_usd": 0.5})
            assert await cache.get("analysis:stock:AAPL:v1") == 1  # connected, warm
            real_redis.config_resetstat()
            for _ in range(20):
                assert await cache.get("analysis:stock:AAPL:v1") == 1

    run(go())
    calls = commands(real_redis)
    lookups = sum(calls.get(name, 0) for name in ("get", "mget", "evalsha", "eval", "pttl"))
    assert lookups <= 20 and calls.get("mget") == 20
    # the hits are counted in batches, not per hit: all of them arrived in the end
    assert counters(real_redis, "analysis")["hits"] == 21
    assert counters(real_redis, "analysis")["cost_saved_usd"] == pytest.approx(10.5)
    assert calls.get("hincrby", 0) < 20


def test_concurrent_warm_hits_share_round_trips(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    keys = [f"analysis:stock:S{i}:v1" for i in range(100)]

    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:
            for i, key in enumerate(keys):
                await cache.set(key, i, ttl=60)
            await cache.get(keys[0])
            real_redis.config_resetstat()
            return list(await asyncio.gather(*(cache.get(key) for key in keys)))

    assert run(go()) == list(range(100))
    calls = commands(real_redis)
    assert 1 <= calls.get("mget", 0) <= 5 and "get" not in calls and "evalsha" not in calls


@pytest.mark.parametrize("mode", ["nx-gt", "script", "ttl"])
def test_symbol_index_outlives_its_longest_entry(
    redis_url: str, real_redis: redis.Redis, settings: Settings, mode: str
) -> None:
    index = symbol_index_key("AAPL")

    async def go() -> None:
        async with CacheService(redis_url, settings=settings, use_scripts=mode != "ttl") as cache:
            await cache.connect()
            caps = cache._link.caps
            assert caps is not None  # on a server without EXPIRE NX/GT, "nx-gt" tests the fallback
            cache._link.caps = dataclasses.replace(caps, expire_nx_gt=mode == "nx-gt")
            await cache.set("earnings:stock:AAPL:v1", 1, ttl=5000)
            await cache.set("technical:stock:AAPL:v1", 2, ttl=100)  # must not shorten the index
            assert 4990 <= real_redis.ttl(index) <= 5000
            await cache.set("fundamental:stock:AAPL:v1", 3, ttl=9000)
            assert 8990 <= real_redis.ttl(index) <= 9000
            assert await cache.delete("technical:stock:AAPL:v1")
            assert not await cache.delete("technical:stock:AAPL:v1")

    run(go())
    assert real_redis.smembers(index) == {b"earnings:stock:AAPL:v1", b"fundamental:stock:AAPL:v1"}


def test_large_index_is_pruned_of_expired_keys(
    redis_url: str, real_redis: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcache_cli.cache import redis_ops

    monkeypatch.setattr(redis_ops, "INDEX_PRUNE_AT", 3)
    index = symbol_index_key("AAPL")
    real_redis.sadd(index, *[f"analysis:stock:AAPL:gone{i}" for i in range(5)])

    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.set("analysis:stock:AAPL:v1", 1, ttl=60)

    run(go())  # aclose waits for the background prune
    assert real_redis.smembers(index) == {b"analysis:stock:AAPL:v1"}


def test_exists_ttl_delete(redis_url: str, settings: Settings) -> None:
    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.set("market:stock:SPY:v1", "x", ttl=50)
            return [
                await cache.exists("market:stock:SPY:v1"),
                await cache.get_ttl("market:stock:SPY:v1"),
                await cache.delete("market:stock:SPY:v1"),
                await cache.exists("market:stock:SPY:v1"),
                await cache.get_ttl("market:stock:SPY:v1"),
            ]

    got = run(go())
    assert got[0] is True and 0 < got[1] <= 50 and got[2:] == [True, False, -2]


def test_not_json_value_is_refused(redis_url: str, settings: Settings) -> None:
    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:
            with pytest.raises(TypeError):
                await cache.set("analysis:stock:AAPL:v1", object(), ttl=5)
            with pytest.raises(ValueError):
                await cache.set("analysis:stock:AAPL:v1", float("nan"), ttl=5)

    run(go())


def test_refused_server_is_a_miss_and_the_password_stays_out_of_logs(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    caplog.set_level(logging.DEBUG, logger="llmcache_cli")

    async def go() -> list[Any]:
        async with CacheService(url, settings=settings, timeout=0.5) as cache:
            return [
                await cache.get("analysis:stock:AAPL:v1", MISSING),
                await cache.set("analysis:stock:AAPL:v1", 1, ttl=5),
                await cache.exists("analysis:stock:AAPL:v1"),
                await cache.get_ttl("analysis:stock:AAPL:v1"),
                await cache.delete("analysis:stock:AAPL:v1"),
                await cache.get_many(["analysis:stock:AAPL:v1"]),
                cache.breaker.stats.opened,
            ]

    assert run(go()) == [MISSING, False, False, None, False, {}, 1]
    assert "hunter2secret" not in caplog.text
    assert "redis://:***@127.0.0.1" in caplog.text


def test_server_errors_do_not_open_the_breaker(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    real_redis.config_set("maxmemory", 1)  # every write is refused with OOM

    async def go() -> CacheService:
        async with CacheService(redis_url, settings=settings, failure_threshold=1) as cache:
            for _ in range(3):
                assert not await cache.set("analysis:stock:AAPL:v1", 1, ttl=5)
            return cache

    cache = run(go())
    assert cache.breaker.stats.opened == 0 and cache.breaker.stats.allowed >= 3
    real_redis.config_set("maxmemory", 0)


def test_lock_key_is_not_left_behind_by_plain_reads(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.get("analysis:stock:AAPL:v1")

    run(go())
    assert not real_redis.exists(lock_key("analysis:stock:AAPL:v1"))


@pytest.mark.redis
def test_breaker_retries_and_recovers_when_redis_comes_back(settings: Settings, tmp_path: Any) -> None:
    from tests.support.servers import RedisServer

    server = RedisServer(tmp_path / "late", port=free_port())

    async def go() -> CacheService:
        async with CacheService(
            server.url, settings=settings, failure_threshold=2, reset_timeout=0.3
        ) as cache:
            for _ in range(4):
                assert not await cache.set("analysis:stock:AAPL:v1", 1, ttl=60)
            assert cache.breaker.stats.opened == 1 and cache.breaker.stats.rejected == 2
            server.start()
            await asyncio.sleep(0.4)  # past the cool-down: the next call is the probe
            assert await cache.set("analysis:stock:AAPL:v1", 1, ttl=60)
            assert await cache.get("analysis:stock:AAPL:v1") == 1
            return cache

    try:
        cache = run(go())
    finally:
        server.stop()
    assert cache.breaker.stats.probes == 1 and cache.breaker.state.value == "closed"


def test_scripts_are_reloaded_after_script_flush(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    index = symbol_index_key("AAPL")

    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.connect()
            caps = cache._link.caps
            assert caps is not None
            cache._link.caps = dataclasses.replace(caps, expire_nx_gt=False)  # EXTEND script
            await cache.set("analysis:stock:AAPL:v1", {"a": 1}, ttl=60)
            real_redis.script_flush()
            await cache.set("technical:stock:AAPL:v1", {"b": 1}, ttl=600)  # NOSCRIPT: reload
            await cache.set("earnings:stock:AAPL:v1", {"c": 1}, ttl=6000)
            return [
                await cache.get("analysis:stock:AAPL:v1", MISSING),
                cache._link.scripts,
                real_redis.ttl(index),
            ]

    value, scripts, index_ttl = run(go())
    assert value == {"a": 1} and scripts and 5990 <= index_ttl <= 6000


def test_unix_socket_password_and_database(tmp_path: Path, settings: Settings) -> None:
    """The lookup connection logs in and selects the URL's database, over a unix socket too."""
    sock = tmp_path / "redis.sock"
    server = RedisServer(
        tmp_path / "srv",
        password="unix-s3cret",
        extra_args=["--requirepass", "unix-s3cret", "--unixsocket", str(sock), "--unixsocketperm", "700"],
    ).start()
    try:

        async def go() -> list[Any]:
            url = f"unix://:unix-s3cret@{sock}?db=3"
            async with CacheService(url, settings=settings) as cache:
                assert await cache.set("analysis:stock:SOCK:v1", [1, 2], ttl=60)
                return [await cache.get("analysis:stock:SOCK:v1"), cache.stats.hits]

        assert run(go()) == [[1, 2], 1]

        async def wrong_password() -> Any:
            async with CacheService(f"unix://:wrong@{sock}?db=3", settings=settings) as cache:
                return await cache.get("analysis:stock:SOCK:v1", "fail-open")

        assert run(wrong_password()) == "fail-open"
        admin = server.admin(db=3)
        assert admin.exists("analysis:stock:SOCK:v1") and not server.admin().exists("analysis:stock:SOCK:v1")
    finally:
        server.stop()


def test_a_key_that_is_not_utf8_is_a_miss_alone(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:
            await cache.set("analysis:stock:OK:v1", "fine", ttl=60)
            return list(
                await asyncio.gather(
                    cache.get("analysis:stock:\udcff:v1", MISSING), cache.get("analysis:stock:OK:v1")
                )
            )

    assert run(go()) == [MISSING, "fine"]
