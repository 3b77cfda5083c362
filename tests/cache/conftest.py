"""Fixtures and helpers for the library tests: default settings, running a coroutine, and a
stampede of separate services (shared with tests/cluster/test_library.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from llmcache_cli import CacheService, cached
from llmcache_cli.config import Settings

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (no pytest plugin needed)."""
    return asyncio.run(coro)


@pytest.fixture
def settings() -> Settings:
    """The documented defaults, whatever the user's own config file says."""
    return Settings()


def separate_services_stampede(
    make: Callable[[], CacheService], services: int, calls_each: int
) -> tuple[list[Any], int]:
    """``services`` services from ``make`` (no in-process sharing between them) each call one
    decorated function (an LLM call of 0.3 s) ``calls_each`` times at once, all for AMD: every
    answer, and how many LLM calls were made."""
    calls = 0

    async def go() -> list[Any]:
        caches = [make() for _ in range(services)]
        try:

            async def analyze(cache: CacheService) -> list[Any]:
                @cached(ttl=60, key_prefix="analysis", cache=cache)
                async def inner(symbol: str) -> str:
                    nonlocal calls
                    calls += 1
                    await asyncio.sleep(0.3)
                    return "answer"

                return list(await asyncio.gather(*(inner("AMD") for _ in range(calls_each))))

            return [r for rs in await asyncio.gather(*(analyze(c) for c in caches)) for r in rs]
        finally:
            for cache in caches:
                await cache.aclose()

    answers = run(go())
    return answers, calls


@dataclass
class Stampede:
    """What ``one_service_stampede`` saw: every answer, the LLM calls made, the key of the
    call and the service's in-process counts (hits, misses)."""

    answers: list[Any]
    calls: int
    key: str
    counts: tuple[int, int]


def one_service_stampede(make: Callable[[], CacheService]) -> Stampede:
    """50 concurrent calls for NVDA through one service from ``make`` (an LLM call of 0.05 s)."""
    calls = 0

    async def go() -> Stampede:
        async with make() as cache:

            @cached(ttl=60, key_prefix="analysis", cache=cache)
            async def analyze(symbol: str, data: dict[str, Any]) -> dict[str, Any]:
                nonlocal calls
                calls += 1
                await asyncio.sleep(0.05)
                return {"symbol": symbol, "call": calls}

            answers = list(await asyncio.gather(*(analyze("NVDA", {"pe": 60}) for _ in range(50))))
            key = analyze.cache_key("NVDA", {"pe": 60})  # type: ignore[attr-defined]
            return Stampede(answers, calls, key, (cache.stats.hits, cache.stats.misses))

    return run(go())
