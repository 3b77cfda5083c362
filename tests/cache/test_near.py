"""The near cache against real redis-server processes: hits from memory, dropped whenever Redis
says the key changed (another process, ``llmcache invalidate``, expiry, eviction, FLUSHDB),
emptied and bypassed when tracking is lost, and kept within its bounds."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from llmcache_cli import CacheService, cached
from llmcache_cli.cache.near import MISSING, NearCache, deep_size
from llmcache_cli.config import Settings, settings_from_mapping
from llmcache_cli.envelope import encode_envelope
from tests.cache.conftest import run
from tests.support.servers import RedisServer
from tests.support.workers import ROOT

pytestmark = pytest.mark.redis

KEY = "analysis:stock:AAPL:v1"


def stored(value: Any) -> bytes:
    return encode_envelope(value, {"cost_usd": 0.01, "latency_ms": 800.0})


async def until(check: Callable[[], bool], what: str, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def warm(cache: CacheService, key: str) -> Any:
    """Read ``key`` until the answer comes from the near cache (tracking starts on first use)."""
    deadline = time.monotonic() + 3
    while True:
        before = cache.stats.near_hits
        value = await cache.get(key)
        if cache.stats.near_hits > before:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} never became a near hit")
        await asyncio.sleep(0.005)


def near_service(url: str, **kwargs: Any) -> CacheService:
    return CacheService(url, settings=Settings(), near_cache=kwargs.pop("entries", 1000), **kwargs)


def with_near(url: str, body: Callable[[CacheService], Awaitable[Any]], **kwargs: Any) -> Any:
    async def go() -> Any:
        async with near_service(url, **kwargs) as cache:
            return await body(cache)

    return run(go())


def test_off_by_default_and_on_from_the_config_file() -> None:
    assert CacheService("redis://127.0.0.1:1/0", settings=Settings()).near is None
    settings = settings_from_mapping({"cache": {"near_cache_entries": 50, "near_cache_bytes": 4096}})
    cache = CacheService("redis://127.0.0.1:1/0", settings=settings)
    assert cache.near is not None and (cache.near.max_entries, cache.near.max_bytes) == (50, 4096)


def test_repeated_reads_come_from_memory_and_are_counted_apart(
    redis_url: str, real_redis: redis.Redis
) -> None:
    real_redis.set(KEY, stored({"a": 1}), ex=60)

    async def body(cache: CacheService) -> tuple[int, int, int]:
        assert await warm(cache, KEY) == {"a": 1}
        real_redis.config_resetstat()
        for _ in range(50):
            assert await cache.get(KEY) == {"a": 1}
        reads = real_redis.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
        await cache.flush_counters()
        return reads, cache.stats.near_hits, cache.stats.hits

    reads, near_hits, hits = with_near(redis_url, body)
    assert reads == 0 and near_hits >= 51 and hits > near_hits
    live = real_redis.hgetall("llmcache:stats:analysis")
    assert int(live[b"near_hits"]) == near_hits and int(live[b"hits"]) == hits


def test_a_write_by_another_process_drops_the_copy(redis_url: str, real_redis: redis.Redis) -> None:
    real_redis.set(KEY, stored({"v": 1}), ex=60)
    writer = (
        "import asyncio, sys\n"
        "from llmcache_cli import CacheService\n"
        "from llmcache_cli.config import Settings\n"
        "async def main():\n"
        "    async with CacheService(sys.argv[1], settings=Settings()) as cache:\n"
        "        assert await cache.set(sys.argv[2], {'v': 2}, ttl=60)\n"
        "asyncio.run(main())\n"
    )

    async def body(cache: CacheService) -> list[Any]:
        await warm(cache, KEY)
        subprocess.run([sys.executable, "-c", writer, redis_url, KEY], cwd=ROOT, check=True, timeout=60)
        await until(
            lambda: cache.near is not None and cache.near.stats["invalidated"] >= 1, "the invalidation"
        )
        return [await cache.get(KEY), await warm(cache, KEY)]

    assert with_near(redis_url, body) == [{"v": 2}, {"v": 2}]


def test_llmcache_invalidate_from_another_process_drops_the_copies(
    redis_url: str, real_redis: redis.Redis
) -> None:
    keys = ["analysis:stock:AAPL:v1", "sentiment:stock:AAPL:v1", "analysis:stock:MSFT:v1"]
    for key in keys:
        real_redis.set(key, stored(key), ex=600)

    async def body(cache: CacheService) -> list[Any]:
        for key in keys:
            await warm(cache, key)
        done = subprocess.run(
            [sys.executable, "-m", "llmcache_cli", "--url", redis_url, "invalidate", "AAPL", "--yes"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        await until(
            lambda: cache.near is not None and cache.near.stats["invalidated"] >= 2, "the invalidations"
        )
        return [await cache.get(key) for key in keys]

    assert with_near(redis_url, body) == [None, None, "analysis:stock:MSFT:v1"]


def test_an_entry_is_gone_at_its_ttl(redis_url: str, real_redis: redis.Redis) -> None:
    async def body(cache: CacheService) -> list[Any]:
        await cache.set(KEY, "short-lived", ttl=1)
        await warm(cache, KEY)
        await asyncio.sleep(1.05)
        return [await cache.get(KEY), cache.near.stats if cache.near is not None else None]

    value, stats = with_near(redis_url, body)
    assert value is None and stats["stored"] >= 1


def test_an_entry_never_outlives_its_redis_expiry_even_without_a_push() -> None:
    near = NearCache(10)
    near.ready = True
    near.track("analysis")
    assert near.put(KEY, "analysis", "x", 30, near.seq)
    assert near.get(KEY) == "x"
    time.sleep(0.04)
    assert near.get(KEY) is MISSING and len(near) == 0
    assert not near.put(KEY, "analysis", "x", -1, near.seq)  # no TTL in Redis: never kept


def test_flushdb_empties_it(redis_url: str, real_redis: redis.Redis) -> None:
    real_redis.set(KEY, stored(1), ex=60)

    async def body(cache: CacheService) -> list[Any]:
        await warm(cache, KEY)
        real_redis.flushdb()
        await until(lambda: cache.near is not None and len(cache.near) == 0, "the flush")
        return [await cache.get(KEY)]

    assert with_near(redis_url, body) == [None]


def test_maxmemory_eviction_drops_the_copy(tmp_path: Path) -> None:
    server = RedisServer(
        tmp_path, extra_args=["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]
    ).start()
    try:
        admin = server.admin()
        admin.set(KEY, stored("evict me"), ex=600)

        async def body(cache: CacheService) -> list[Any]:
            await warm(cache, KEY)  # near hits do not touch Redis: the key goes cold there
            filler = b"x" * 10_000
            for i in range(2000):
                admin.set(f"filler:{i}", filler)
                if not admin.exists(KEY):
                    break
            assert not admin.exists(KEY), "the key was not evicted"
            await until(lambda: cache.near is not None and len(cache.near) == 0, "the eviction push")
            return [await cache.get(KEY)]

        assert with_near(server.url, body) == [None]
    finally:
        server.stop()


def test_killing_the_tracking_connection_empties_and_bypasses_it(
    redis_url: str, real_redis: redis.Redis
) -> None:
    real_redis.set(KEY, stored("old"), ex=600)

    async def body(cache: CacheService) -> list[Any]:
        await warm(cache, KEY)
        tracking = [c for c in real_redis.client_list() if "t" in c["flags"]]
        assert len(tracking) == 1
        real_redis.client_kill_filter(_id=tracking[0]["id"])
        await until(lambda: cache.near is not None and not cache.near.ready, "the lost connection")
        # Nothing tells this client any more: the next reads must go to Redis, and be right.
        real_redis.set(KEY, stored("new"), ex=600)
        first = await cache.get(KEY)
        again = await warm(cache, KEY)  # tracking comes back on the next reads
        real_redis.set(KEY, stored("newer"), ex=600)
        await until(lambda: cache.near is not None and len(cache.near) == 0, "the invalidation")
        return [first, again, await cache.get(KEY)]

    assert with_near(redis_url, body) == ["new", "new", "newer"]


def test_the_decorator_serves_near_hits(redis_url: str, real_redis: redis.Redis) -> None:
    calls = 0

    async def body(cache: CacheService) -> list[Any]:
        nonlocal calls

        @cached(ttl=60, key_prefix="analysis", cache=cache)
        async def analyze(symbol: str) -> dict[str, Any]:
            nonlocal calls
            calls += 1
            return {"symbol": symbol}

        answers = [await analyze("AAPL") for _ in range(3)]
        await until(lambda: cache.near is not None and cache.near.ready, "tracking")
        await analyze("AAPL")  # read from Redis now that the namespace is tracked: kept near
        before = cache.stats.near_hits
        answers += [await analyze("AAPL") for _ in range(5)]
        return [answers, cache.stats.near_hits - before]

    answers, near_hits = with_near(redis_url, body)
    assert answers == [{"symbol": "AAPL"}] * 8 and near_hits == 5 and calls == 1


def test_entry_and_byte_bounds(redis_url: str, real_redis: redis.Redis) -> None:
    answer = {"text": "y" * 2000, "numbers": list(range(50))}
    for i in range(40):
        real_redis.set(f"analysis:stock:S{i}:v1", stored(answer), ex=600)

    async def fill(cache: CacheService) -> tuple[int, int]:
        await warm(cache, "analysis:stock:S0:v1")
        for i in range(40):
            await cache.get(f"analysis:stock:S{i}:v1")
        assert cache.near is not None
        return len(cache.near), cache.near.bytes

    assert with_near(redis_url, fill, entries=10)[0] == 10
    one = deep_size(answer)
    count, size = with_near(redis_url, fill, entries=1000, near_cache_bytes=5 * one)
    assert 3 <= count <= 5 and size <= 5 * one


def test_deep_size_counts_the_decoded_answer() -> None:
    small, big = json.loads('{"a": [1, 2]}'), json.loads(json.dumps({"a": ["x" * 1000] * 10}))
    assert deep_size(big) > 10_000 > deep_size(small) > 0


def test_the_trace_marks_near_hits(redis_url: str, real_redis: redis.Redis, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"

    async def body(cache: CacheService) -> None:
        @cached(ttl=60, key_prefix="analysis", cache=cache)
        async def analyze(symbol: str) -> str:
            return "answer"

        await analyze("AAPL")
        await until(lambda: cache.near is not None and cache.near.ready, "tracking")
        for _ in range(3):
            await analyze("AAPL")

    with_near(redis_url, body, trace_path=str(trace))
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [(line["hit"], line.get("near", False)) for line in lines] == [
        (False, False),
        (True, False),
        (True, True),
        (True, True),
    ]
    replay = subprocess.run(
        [sys.executable, "-m", "llmcache_cli", "simulate", "--trace", str(trace), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr  # near hits replay like any other line
    assert json.loads(replay.stdout)["requests"] == 4


def test_stats_and_prometheus_show_near_hits(redis_url: str, real_redis: redis.Redis) -> None:
    real_redis.set(KEY, stored("x"), ex=600)

    async def body(cache: CacheService) -> int:
        await warm(cache, KEY)
        for _ in range(4):
            await cache.get(KEY)
        await cache.flush_counters()
        return cache.stats.near_hits

    near_hits = with_near(redis_url, body)

    def llmcache(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "llmcache_cli", "--url", redis_url, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    rows = {r["namespace"]: r for r in json.loads(llmcache("stats", "--json"))["llm"]["namespaces"]}
    assert rows["analysis"]["near_hits"] == near_hits >= 5
    assert f'llmcache_llm_near_hits_total{{namespace="analysis"}} {near_hits}.0' in llmcache(
        "stats", "--format", "prometheus"
    )
