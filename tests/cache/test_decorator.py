"""@cached: keys, falsy hits, bypass, single flight, Redis lock, failure behaviour, trace."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from llmcache_cli import CacheService, cached, read_trace, record_usage
from llmcache_cli.cache.trace import TRACE_FIELDS
from llmcache_cli.config import Settings
from llmcache_cli.keys import input_hash, lock_key, parse_key, stats_key
from tests.cache.conftest import one_service_stampede, run, separate_services_stampede
from tests.support.servers import free_port


def offline_cache(settings: Settings, **kw: Any) -> CacheService:
    """A service for key checks only: nothing here talks to Redis."""
    return CacheService(f"redis://127.0.0.1:{free_port()}/0", settings=settings, cluster=False, **kw)


# ---------------------------------------------------------------------------------------------
# Keys


def test_key_follows_the_schema(settings: Settings) -> None:
    cache = offline_cache(settings)

    @cached(data_type="technical", cache=cache)
    async def indicators(symbol: str, window: int = 14, data: dict[str, Any] | None = None) -> Any: ...

    key = indicators.cache_key("AAPL", 14, {"b": 1, "a": 2})  # type: ignore[attr-defined]
    expected_hash = input_hash({"window": 14, "data": {"a": 2, "b": 1}})
    assert key == f"technical:stock:AAPL:{expected_hash}:v1"
    # positional or keyword, defaults spelled out or not, dict order: all the same key
    assert indicators.cache_key(symbol="AAPL", data={"a": 2, "b": 1}) == key  # type: ignore[attr-defined]
    assert indicators.cache_key("AAPL", window=15, data={"a": 2, "b": 1}) != key  # type: ignore[attr-defined]
    parsed = parse_key(key)
    assert parsed is not None and parsed.symbol() == "AAPL" and parsed.data_type == "technical"


def test_symbol_rules(settings: Settings) -> None:
    cache = offline_cache(settings)

    @cached(cache=cache)
    async def by_ticker(data: dict[str, Any], ticker: str) -> Any: ...

    @cached(key_prefix="sentiment", cache=cache)
    async def first_positional(name: str) -> Any: ...

    @cached(key_prefix="analysis", cache=cache)
    async def prompt_only(prompt: str) -> Any: ...

    assert by_ticker.cache_key({"x": 1}, "MSFT").startswith("by_ticker:stock:MSFT:")  # type: ignore[attr-defined]
    assert first_positional.cache_key("BRK.B") == "sentiment:stock:BRK.B:v1"  # type: ignore[attr-defined]
    key = prompt_only.cache_key("What is the outlook for tech?")  # type: ignore[attr-defined]
    assert key.startswith("analysis:fn:test_symbol_rules.<locals>.prompt_only:")
    assert parse_key(key).symbol() is None  # type: ignore[union-attr]


def test_method_skips_self_and_uses_the_instance_cache(settings: Settings) -> None:
    class Agent:
        def __init__(self, cache: CacheService, name: str) -> None:
            self.cache = cache
            self.name = name

        @cached(key_prefix="analysis")
        async def analyze(self, symbol: str, data: dict[str, Any]) -> Any: ...

    cache = offline_cache(settings)
    one, two = Agent(cache, "a"), Agent(cache, "b")
    assert one.analyze.cache_key(one, "AAPL", {"pe": 1}) == two.analyze.cache_key(two, "AAPL", {"pe": 1})  # type: ignore[attr-defined]


def test_a_cache_that_cannot_be_found_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """No cache= and no self/cls: said when decorated. A method whose instance has no .cache:
    said at the first call, not at every call. Both still run the function."""
    with caplog.at_level("WARNING", logger="llmcache_cli"):

        @cached()
        async def analyze(s: Any, symbol: str) -> str:
            return symbol

        assert "always run uncached" in caplog.text

        class Bare:
            @cached()
            async def analyze(self, symbol: str) -> str:
                return symbol

        caplog.clear()
        bare = Bare()
        assert [run(bare.analyze("AAPL")) for _ in range(3)] == ["AAPL"] * 3
        assert run(analyze(None, "MSFT")) == "MSFT"
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].endswith(
        "Bare.analyze: the instance has no .cache (a CacheService); running uncached"
    )


def test_version_and_hash_tag_come_from_settings(settings: Settings) -> None:
    tagged = dataclasses.replace(settings, hash_tag="always", cache_version="v7")
    cache = offline_cache(tagged)

    @cached(data_type="fundamental", cache=cache)
    async def fundamentals(symbol: str) -> Any: ...

    assert fundamentals.cache_key("AAPL") == "fundamental:stock:{AAPL}:v7"  # type: ignore[attr-defined]


def test_a_symbol_that_cannot_be_a_hash_tag_runs_uncached(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis Cluster ends a tag at its first '}': such a symbol gets no key, and the call still
    runs (uncached, with a warning); a '{' inside is part of the tag."""
    cache = offline_cache(dataclasses.replace(settings, hash_tag="always"))

    @cached(data_type="fundamental", cache=cache)
    async def fundamentals(symbol: str) -> str:
        return symbol.lower()

    assert fundamentals.cache_key("A{B") == "fundamental:stock:{A{B}:v1"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="cannot be a cluster hash tag"):
        fundamentals.cache_key("A}B")  # type: ignore[attr-defined]
    assert run(fundamentals("A}B")) == "a}b"
    assert "cannot build a cache key" in caplog.text and cache.stats.errors == 1


def test_decorator_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        cached(ttl=0)
    with pytest.raises(ValueError):
        cached(data_type="nonsense")
    with pytest.raises(ValueError):
        cached(key_prefix="a:b")
    with pytest.raises(TypeError):

        @cached()
        def not_async(symbol: str) -> None: ...

    with pytest.raises(TypeError):

        @cached()
        async def clash(symbol: str, cache_bypass: bool) -> None: ...


# ---------------------------------------------------------------------------------------------
# Against the real server


class Counter:
    def __init__(self) -> None:
        self.calls = 0


@pytest.mark.redis
def test_cached_empty_dict_is_a_hit(redis_url: str, settings: Settings) -> None:
    count = Counter()

    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:

            @cached(ttl=60, key_prefix="analysis", cache=cache)
            async def analyze(symbol: str) -> dict[str, Any]:
                count.calls += 1
                return {}

            return [await analyze("AAPL"), await analyze("AAPL"), cache.stats.hits]

    assert run(go()) == [{}, {}, 1]
    assert count.calls == 1


@pytest.mark.redis
def test_usage_priced_from_the_table_and_ttl_from_the_policy(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    async def go() -> str:
        async with CacheService(redis_url, settings=settings) as cache:

            @cached(data_type="earnings", cache=cache)
            async def earnings(symbol: str, quarter: str) -> dict[str, Any]:
                record_usage(model="claude-haiku-4-5", input_tokens=2_000_000, output_tokens=100_000)
                return {"beat": True}

            await earnings("AAPL", "2025Q1")
            return str(earnings.cache_key("AAPL", "2025Q1"))  # type: ignore[attr-defined]

    key = run(go())
    meta = json.loads(real_redis.get(key))["meta"]
    assert meta["model"] == "claude-haiku-4-5" and meta["input_tokens"] == 2_000_000
    assert meta["cost_usd"] == pytest.approx(2.0 * 1 + 0.1 * 5)  # $1 / $5 per million
    assert "usage_estimated" not in meta and meta["data_type"] == "earnings"
    assert 604790 <= real_redis.ttl(key) <= 604800
    assert float(real_redis.hget(stats_key("earnings"), "cost_spent_usd")) == pytest.approx(2.5)


@pytest.mark.redis
def test_bypass_and_refresh(redis_url: str, real_redis: redis.Redis, settings: Settings) -> None:
    count = Counter()

    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:

            @cached(ttl=60, cache=cache)
            async def quote(symbol: str) -> int:
                count.calls += 1
                return count.calls

            return [
                await quote("SPY"),  # miss: 1
                await quote("SPY"),  # hit: 1
                await quote("SPY", cache_bypass=True),  # runs, not stored: 2
                await quote("SPY"),  # hit: 1
                await quote("SPY", cache_refresh=True),  # runs and stores: 3
                await quote("SPY"),  # hit: 3
                cache.stats.bypassed,
            ]

    assert run(go()) == [1, 1, 2, 1, 3, 3, 1]


@pytest.mark.redis
def test_fifty_concurrent_calls_run_the_function_once(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    seen = one_service_stampede(lambda: CacheService(redis_url, settings=settings, max_connections=5))
    assert seen.calls == 1
    assert seen.answers == [{"symbol": "NVDA", "call": 1}] * 50
    assert seen.counts == (49, 1)
    stats = real_redis.hgetall(stats_key("analysis"))
    assert (int(stats[b"hits"]), int(stats[b"misses"])) == (49, 1)


@pytest.mark.redis
@pytest.mark.parametrize("use_scripts", [True, False], ids=["lua", "pipelines"])
def test_separate_services_share_one_call_through_the_redis_lock(
    redis_url: str, real_redis: redis.Redis, settings: Settings, use_scripts: bool
) -> None:
    """No in-process sharing between services: only the lock in Redis stops the stampede."""
    answers, calls = separate_services_stampede(
        lambda: CacheService(redis_url, settings=settings, use_scripts=use_scripts), services=8, calls_each=1
    )
    assert answers == ["answer"] * 8
    assert calls == 1
    stats = real_redis.hgetall(stats_key("analysis"))
    assert (int(stats[b"hits"]), int(stats[b"misses"])) == (7, 1)


@pytest.mark.redis
def test_a_miss_takes_the_lock_exactly_once_and_a_hit_never(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    locks: list[int] = []

    def lock_sets() -> int:
        stats = real_redis.info("commandstats")
        return int(stats.get("cmdstat_set", {}).get("calls", 0))

    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:

            @cached(ttl=60, cache=cache)
            async def analyze(symbol: str) -> str:
                return "answer"

            await cache.connect()
            real_redis.config_resetstat()
            assert await analyze("AAPL") == "answer"
            locks.append(lock_sets())  # the lock's SET NX, then the answer's SET
            for _ in range(5):
                assert await analyze("AAPL") == "answer"
            locks.append(lock_sets())
            assert not real_redis.exists(lock_key(analyze.cache_key("AAPL")))  # type: ignore[attr-defined]

    run(go())
    assert locks == [2, 2]


@pytest.mark.redis
def test_failing_function_releases_the_lock(
    redis_url: str, real_redis: redis.Redis, settings: Settings
) -> None:
    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:

            @cached(ttl=60, cache=cache)
            async def analyze(symbol: str) -> str:
                raise RuntimeError("LLM down")

            with pytest.raises(RuntimeError):
                await analyze("AAPL")
            assert not real_redis.exists(lock_key(analyze.cache_key("AAPL")))  # type: ignore[attr-defined]

    run(go())


@pytest.mark.redis
def test_result_that_is_not_json_is_returned_uncached(redis_url: str, settings: Settings) -> None:
    count = Counter()

    async def go() -> list[Any]:
        async with CacheService(redis_url, settings=settings) as cache:

            @cached(ttl=60, cache=cache)
            async def analyze(symbol: str) -> object:
                count.calls += 1
                return {"when": time}  # a module: not JSON

            return [await analyze("AAPL"), await analyze("AAPL")]

    assert run(go()) == [{"when": time}, {"when": time}]
    assert count.calls == 2


def test_silent_server_costs_few_timeouts(silent_port: int, settings: Settings) -> None:
    """20 calls with Redis accepting but never answering: all correct, few timeouts paid."""

    async def go() -> tuple[list[int], CacheService]:
        cache = CacheService(
            f"redis://127.0.0.1:{silent_port}/0",
            settings=settings,
            timeout=0.2,
            failure_threshold=3,
            reset_timeout=60.0,
        )
        try:

            @cached(ttl=60, cache=cache)
            async def double(symbol: str, n: int) -> int:
                return 2 * n

            results = list(await asyncio.gather(*(double("MSFT", n) for n in range(10))))
            results += [await double("AAPL", n) for n in range(10, 20)]
            return results, cache
        finally:
            await cache.aclose()

    started = time.monotonic()
    results, cache = run(go())
    assert results == [2 * n for n in range(20)]
    # The 10 concurrent calls share one lookup; the breaker opens after the third timeout, and
    # every later lookup (at least 7 of the 10 one-by-one calls) is refused at once.
    assert cache.breaker.stats.timeouts <= 3
    assert cache.breaker.stats.rejected >= 7
    assert cache.stats.errors == 20
    assert time.monotonic() - started < 30  # no hang (3 timeouts of 0.2 s need far less)


def test_refused_server_still_returns_results(settings: Settings) -> None:
    async def go() -> list[int]:
        async with CacheService(f"redis://127.0.0.1:{free_port()}/0", settings=settings) as cache:

            @cached(ttl=60, cache=cache)
            async def square(symbol: str, n: int) -> int:
                return n * n

            return [await square("X", n) for n in range(5)]

    assert run(go()) == [0, 1, 4, 9, 16]


def test_without_a_cache_the_function_just_runs() -> None:
    @cached(ttl=60)
    async def plain(symbol: str) -> str:
        return symbol.lower()

    assert run(plain("AAPL")) == "aapl"


@pytest.mark.redis
def test_request_trace_lines(redis_url: str, settings: Settings, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"

    async def go() -> None:
        async with CacheService(redis_url, settings=settings, trace_path=str(trace)) as cache:

            @cached(data_type="sentiment", cache=cache)
            async def sentiment(symbol: str, headline: str) -> float:
                record_usage(model="claude-sonnet-4-5", input_tokens=1000, output_tokens=100)
                return 0.0

            @cached(key_prefix="market", cache=cache)
            async def summary() -> str:
                return "calm"

            await sentiment("AAPL", "beats estimates")
            await sentiment("AAPL", "beats estimates")
            await summary()

    run(go())
    lines = trace.read_text().splitlines()
    # every field but "near", which is written on near hits only
    assert [list(json.loads(line)) for line in lines] == [list(TRACE_FIELDS[:-1])] * 3
    miss, hit, other = read_trace(trace)
    assert (miss.hit, hit.hit) == (False, True)
    assert miss.key == hit.key and miss.symbol == "AAPL" and miss.data_type == "sentiment"
    assert miss.model == hit.model == "claude-sonnet-4-5"
    assert miss.input_tokens == hit.input_tokens == 1000 and hit.output_tokens == 100
    assert miss.cost_usd == hit.cost_usd == pytest.approx(0.0045)
    assert miss.ttl_seconds and miss.ttl_seconds > 0 and hit.ttl_seconds is None
    assert miss.ts.endswith("+00:00")
    assert other.symbol is None and other.data_type == "market" and other.model == settings.default_model
