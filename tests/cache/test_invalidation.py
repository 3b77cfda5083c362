"""Event and version invalidation, and the "changed significantly?" check."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from llmcache_cli import CacheService, Threshold, changed_significantly, reuse_if_unchanged
from llmcache_cli.cache import DEFAULT_THRESHOLDS
from llmcache_cli.config import Settings
from llmcache_cli.keys import stats_key, symbol_index_key
from tests.cache.conftest import run

KEYS = [
    "analysis:stock:AAPL:v1",
    "analysis:stock:AAPL:0123abcd:v1",
    "stock_analysis:stock:AAPL:v1",  # a namespace the config lists ([keys] namespaces): analysis
    "fundamental:stock:{AAPL}:v1",  # hash-tagged form
    "earnings:stock:AAPL:v1",
    "sentiment:stock:AAPL:v1",
    "technical:stock:AAPL:v1",
    "analysis:stock:AAPLX:v1",
    "analysis:stock:aapl:v1",
    "analysis:stock:AAPL.X:v1",
    "analysis:news:AAPL:v1",
    "sentiment:stock:AAPLX:v1",
]


@pytest.fixture
def settings() -> Settings:
    """The defaults, with the bot's own namespace ``stock_analysis`` listed as the cache's
    (``[keys] namespaces``): invalidation reaches cache entries only."""
    return Settings(cache_namespaces=frozenset({"stock_analysis"}))


def remaining(client: redis.Redis) -> set[str]:
    return {k.decode() for k in client.scan_iter() if not k.startswith(b"llmcache:")}


@pytest.fixture
def populated(redis_url: str, real_redis: redis.Redis, settings: Settings) -> redis.Redis:
    async def go() -> None:
        async with CacheService(redis_url, settings=settings) as cache:
            for key in KEYS:
                assert await cache.set(key, {"k": key}, ttl=600)

    run(go())
    return real_redis


@pytest.mark.redis
def test_on_earnings_removes_exactly_the_symbols_analysis_fundamental_earnings(
    redis_url: str, populated: redis.Redis, settings: Settings
) -> None:
    async def go() -> Any:
        async with CacheService(redis_url, settings=settings) as cache:
            return await cache.invalidation.on_earnings("AAPL")

    result = run(go())
    gone = set(KEYS[:5])
    assert (result.matched, result.deleted, result.complete) == (5, 5, True)
    assert remaining(populated) == set(KEYS) - gone
    assert populated.smembers(symbol_index_key("AAPL")) == {
        b"sentiment:stock:AAPL:v1",
        b"technical:stock:AAPL:v1",
    }


@pytest.mark.redis
def test_on_news_removes_sentiment_only(redis_url: str, populated: redis.Redis, settings: Settings) -> None:
    async def go() -> Any:
        async with CacheService(redis_url, settings=settings) as cache:
            return await cache.invalidation.on_news("AAPL")

    assert run(go()).deleted == 1
    assert remaining(populated) == set(KEYS) - {"sentiment:stock:AAPL:v1"}


@pytest.mark.redis
def test_glob_characters_in_a_symbol_match_nothing_else(
    redis_url: str, populated: redis.Redis, settings: Settings
) -> None:
    async def go() -> list[int]:
        async with CacheService(redis_url, settings=settings) as cache:
            return [
                (await cache.invalidation.invalidate_symbol(s)).deleted
                for s in ("*", "AAPL*", "AAP?", "[A]APL")
            ]

    assert run(go()) == [0, 0, 0, 0]
    assert remaining(populated) == set(KEYS)


@pytest.mark.redis
def test_purge_version(redis_url: str, real_redis: redis.Redis, settings: Settings) -> None:
    keys = [
        "analysis:stock:AAPL:v1",
        "analysis:stock:AAPL:abc:v1",
        "analysis:stock:AAPL:v2",
        "sentiment:news:x:v1",
    ]
    for key in keys:
        real_redis.set(key, "1")
    real_redis.set("llmcache:something:v1", "1")
    bumped = Settings(cache_version="v2")

    async def go() -> Any:
        async with CacheService(redis_url, settings=bumped) as cache:
            with pytest.raises(ValueError):
                await cache.invalidation.purge_version("v2")  # the current version
            return await cache.invalidation.purge_version("v1")

    assert run(go()).deleted == 3
    assert remaining(real_redis) == {"analysis:stock:AAPL:v2"}
    assert real_redis.exists("llmcache:something:v1")


def test_invalidation_with_redis_down_reports_incomplete(settings: Settings) -> None:
    from tests.support.servers import free_port

    async def go() -> Any:
        async with CacheService(f"redis://127.0.0.1:{free_port()}/0", settings=settings) as cache:
            return await cache.invalidation.on_earnings("AAPL")

    result = run(go())
    assert (result.deleted, result.complete) == (0, False)


# ---------------------------------------------------------------------------------------------
# changed_significantly


def test_growth_rates_are_compared_in_percentage_points() -> None:
    thresholds = {"revenue_growth": Threshold.points(0.02)}
    # 0.01 -> 0.02 is a 100 % relative change but only 1 point: not significant.
    assert changed_significantly({"revenue_growth": 0.01}, {"revenue_growth": 0.02}, thresholds) == []
    assert changed_significantly({"revenue_growth": 0.12}, {"revenue_growth": 0.15}, thresholds) == [
        "revenue_growth"
    ]
    # exactly 2 points is not "more than" 2 points, despite binary floating point
    assert changed_significantly({"revenue_growth": 0.12}, {"revenue_growth": 0.14}, thresholds) == []


def test_ratios_are_compared_relatively() -> None:
    thresholds = {"pe_ratio": Threshold.relative(0.10)}
    assert changed_significantly({"pe_ratio": 20.0}, {"pe_ratio": 21.9}, thresholds) == []
    assert changed_significantly({"pe_ratio": 20.0}, {"pe_ratio": 22.5}, thresholds) == ["pe_ratio"]
    assert changed_significantly({"pe_ratio": 20.0}, {"pe_ratio": 17.5}, thresholds) == ["pe_ratio"]
    assert changed_significantly({"pe_ratio": 0}, {"pe_ratio": 0.1}, thresholds) == ["pe_ratio"]
    assert changed_significantly({"pe_ratio": 0}, {"pe_ratio": 0}, thresholds) == []


def test_missing_and_non_numeric_fields() -> None:
    thresholds = {
        "pe_ratio": Threshold.relative(0.1),
        "rating": Threshold.relative(0.1),
        "x": Threshold.points(1),
    }
    assert changed_significantly({"pe_ratio": 10}, {}, thresholds) == ["pe_ratio"]
    assert changed_significantly({"rating": "buy"}, {"rating": "sell"}, thresholds) == ["rating"]
    assert (
        changed_significantly({"rating": "buy", "other": 1}, {"rating": "buy", "other": 99}, thresholds) == []
    )


def test_default_thresholds_are_the_reference_fields() -> None:
    assert set(DEFAULT_THRESHOLDS) == {"pe_ratio", "revenue_growth", "debt_ratio"}
    assert DEFAULT_THRESHOLDS["revenue_growth"].kind == "points"


@pytest.mark.redis
def test_reuse_if_unchanged(redis_url: str, real_redis: redis.Redis, settings: Settings) -> None:
    calls: list[dict[str, float]] = []

    async def go() -> list[tuple[Any, bool]]:
        async with CacheService(redis_url, settings=settings) as cache:

            async def ask(inputs: dict[str, float]) -> tuple[Any, bool]:
                async def llm() -> str:
                    calls.append(inputs)
                    return f"view@{inputs['pe_ratio']}"

                return await reuse_if_unchanged(cache, "analysis:stock:AAPL:v1", inputs, llm, ttl=600)

            return [
                await ask({"pe_ratio": 28.0, "revenue_growth": 0.10}),
                await ask({"pe_ratio": 28.5, "revenue_growth": 0.11}),  # small moves: reuse
                await ask({"pe_ratio": 28.5, "revenue_growth": 0.15}),  # +5 points: recompute
            ]

    assert run(go()) == [("view@28.0", False), ("view@28.0", True), ("view@28.5", False)]
    assert len(calls) == 2
    stats = real_redis.hgetall(stats_key("analysis"))
    assert (int(stats[b"hits"]), int(stats[b"misses"])) == (1, 2)
