"""Benchmark: the ``@cached`` hit path against a bare GET and the peer libraries.

Starts its own redis-server on a free port. Every contender caches the same async function (an
"LLM call" returning a ~1.5 KB JSON answer) for the same ``--keys`` symbols; all keys are warmed
first, so every timed call is a hit. The contenders:

- floor: ``redis.asyncio`` ``GET`` + ``json.loads`` through a BlockingConnectionPool of 100;
- llmcache ``@cached`` with a default ``CacheService``;
- llmcache ``@cached`` with the near cache on (``near_cache=10_000``), when the library has it;
- cashews ``@cache`` (redis backend), aiocache ``@cached`` (RedisCache, JSON serializer): the
  ``bench`` extra; a contender whose package is missing is reported as skipped.

Loads: one caller in a loop (p50 and p99 per hit) and ``--callers`` concurrent callers (hits/s
and p99). Ratios are to the floor. Contenders run in interleaved rounds (a noisy moment hits
them all alike) and each figure is the median over the rounds. The run fails if any timed call
reached the "LLM".

    python -m benchmarks.bench_library [--calls 3000] [--callers 100] [--keys 100] [--rounds 3]
                                       [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import inspect
import io
import json
import pstats
import statistics
import tempfile
import time
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis.asyncio

from llmcache_cli import CacheService, cached
from llmcache_cli.config import Settings
from tests.support.servers import RedisServer

Call = Callable[[str], Awaitable[Any]]


def answer(symbol: str) -> dict[str, Any]:
    """A ~1.5 KB JSON answer, the size of a short LLM analysis."""
    return {
        "symbol": symbol,
        "summary": ("Revenue grew faster than costs; margins widened. " * 12).strip(),
        "signals": [{"name": f"s{i}", "value": i * 1.5, "weight": 0.1 * i} for i in range(12)],
        "rating": "buy",
    }


ANSWER_BYTES = len(json.dumps(answer("AAPL")))


@dataclass
class Row:
    name: str
    p50_us: float | None = None
    p99_us: float | None = None
    many_rate: float | None = None  # hits/s with --callers concurrent callers
    many_p99_ms: float | None = None
    llm_calls: int = 0  # during the timed calls: must be 0
    note: str = ""


class Contender:
    """One way of caching ``answer``: ``setup`` returns the cached callable; ``llm_calls``
    counts the calls that reached the function."""

    name = ""
    needs: str | None = None  # an optional package

    def __init__(self, url: str, port: int) -> None:
        self.url, self.port = url, port
        self.llm_calls = 0

    async def llm(self, symbol: str) -> dict[str, Any]:
        self.llm_calls += 1
        return answer(symbol)

    async def setup(self) -> Call:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class Floor(Contender):
    name = "redis.asyncio GET + json.loads (floor)"

    async def setup(self) -> Call:
        pool = redis.asyncio.BlockingConnectionPool.from_url(self.url, max_connections=100)
        self.client = redis.asyncio.Redis(connection_pool=pool)
        keys = {}

        async def call(symbol: str) -> Any:
            key = keys.get(symbol) or keys.setdefault(symbol, f"floor:{symbol}")
            raw = await self.client.get(key)
            if raw is None:
                value = await self.llm(symbol)
                await self.client.set(key, json.dumps(value), ex=3600)
                return value
            return json.loads(raw)

        return call

    async def close(self) -> None:
        await self.client.aclose()


class Llmcache(Contender):
    name = "llmcache @cached"
    options: typing.ClassVar[dict[str, Any]] = {}

    async def setup(self) -> Call:
        self.cache = CacheService(self.url, settings=Settings(), **self.options)

        @cached(ttl=3600, key_prefix="analysis", cache=self.cache)
        async def analyze(symbol: str) -> dict[str, Any]:
            return await self.llm(symbol)

        return analyze

    async def close(self) -> None:
        await self.cache.aclose()


class LlmcacheNear(Llmcache):
    name = "llmcache near cache"
    options: typing.ClassVar[dict[str, Any]] = {"near_cache": 10_000}


class Cashews(Contender):
    name = "cashews @cache (redis)"
    needs = "cashews"

    async def setup(self) -> Call:
        from cashews import Cache

        self.cashews = Cache()
        self.cashews.setup(self.url)

        @self.cashews(ttl="1h")
        async def analyze(symbol: str) -> dict[str, Any]:
            return await self.llm(symbol)

        return analyze

    async def close(self) -> None:
        await self.cashews.close()


class Aiocache(Contender):
    name = "aiocache @cached (RedisCache, JSON)"
    needs = "aiocache"

    async def setup(self) -> Call:
        from aiocache import RedisCache
        from aiocache import cached as ai_cached
        from aiocache.serializers import JsonSerializer

        @ai_cached(
            cache=RedisCache, serializer=JsonSerializer(), endpoint="127.0.0.1", port=self.port, ttl=3600
        )
        async def analyze(symbol: str) -> dict[str, Any]:
            return await self.llm(symbol)

        self.backend = analyze.cache  # type: ignore[attr-defined]
        return analyze

    async def close(self) -> None:
        await self.backend.close()


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def one_caller(call: Call, symbols: list[str], calls: int) -> list[float]:
    took = []
    clock = time.perf_counter
    for i in range(calls):
        symbol = symbols[i % len(symbols)]
        started = clock()
        await call(symbol)
        took.append(clock() - started)
    return took


async def many_callers(call: Call, symbols: list[str], callers: int, calls: int) -> tuple[float, list[float]]:
    took: list[float] = []
    each = max(1, calls // callers)
    clock = time.perf_counter

    async def caller(offset: int) -> None:
        for i in range(each):
            symbol = symbols[(offset + i) % len(symbols)]
            started = clock()
            await call(symbol)
            took.append(clock() - started)

    started = clock()
    await asyncio.gather(*(caller(n) for n in range(callers)))
    return clock() - started, took


async def measure(contender: Contender, args: argparse.Namespace, symbols: list[str]) -> Row:
    row = Row(contender.name)
    call = await contender.setup()
    try:
        for symbol in symbols:  # warm every key (and any connection pool)
            await call(symbol)
        await one_caller(call, symbols, min(500, args.calls))
        contender.llm_calls = 0
        took = await one_caller(call, symbols, args.calls)
        row.p50_us = statistics.median(took) * 1e6
        row.p99_us = percentile(took, 99) * 1e6
        wall, many = await many_callers(call, symbols, args.callers, args.calls * 2)
        row.many_rate = len(many) / wall
        row.many_p99_ms = percentile(many, 99) * 1e3
        row.llm_calls = contender.llm_calls
    finally:
        await contender.close()
    return row


async def profile_llmcache(url: str, port: int, symbols: list[str], calls: int) -> str:
    """Where one caller's hit time goes: the top functions by own time."""
    contender = Llmcache(url, port)
    call = await contender.setup()
    for symbol in symbols:
        await call(symbol)
    profiler = cProfile.Profile()
    profiler.enable()
    await one_caller(call, symbols, calls)
    profiler.disable()
    await contender.close()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    return out.getvalue()


def median_row(rows: list[Row]) -> Row:
    """Each figure's median over the rounds; LLM calls summed."""

    def mid(name: str) -> float:
        return statistics.median(getattr(row, name) for row in rows)

    return Row(
        rows[0].name,
        p50_us=mid("p50_us"),
        p99_us=mid("p99_us"),
        many_rate=mid("many_rate"),
        many_p99_ms=mid("many_p99_ms"),
        llm_calls=sum(row.llm_calls for row in rows),
    )


def available(contender: type[Contender]) -> bool:
    if contender.needs and importlib.util.find_spec(contender.needs) is None:
        return False
    if contender is LlmcacheNear:
        return "near_cache" in inspect.signature(CacheService).parameters
    return True


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(rows: list[Row], floor: Row) -> str:
    lines = [
        f"{'contender':38} {'p50 us':>8} {'x floor':>8} {'p99 us':>8} {'hits/s':>9} "
        f"{'vs floor':>8} {'p99 ms':>7}",
    ]
    for row in rows:
        if row.p50_us is None:
            lines.append(f"{row.name:38} skipped: {row.note}")
            continue
        lines.append(
            f"{row.name:38} {row.p50_us:8.1f} {row.p50_us / floor.p50_us:8.2f} {row.p99_us:8.1f} "  # type: ignore[operator]
            f"{row.many_rate:9,.0f} {row.many_rate / floor.many_rate:8.2f} {row.many_p99_ms:7.2f}"  # type: ignore[operator]
        )
    return "\n".join(lines)


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="bench_library")
    parser.add_argument("--calls", type=int, default=3000, help="timed hits per load (default 3000)")
    parser.add_argument("--callers", type=int, default=100, help="concurrent callers (default 100)")
    parser.add_argument("--keys", type=int, default=100, help="distinct warm keys (default 100)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians reported (default 3)"
    )
    parser.add_argument("--profile", action="store_true", help="also profile llmcache's hit path")
    parser.add_argument("--json", action="store_true")
    args, _ = parser.parse_known_args(list(argv))
    symbols = [f"S{i:04d}" for i in range(args.keys)]
    contenders = [Floor, Llmcache, LlmcacheNear, Cashews, Aiocache]
    with tempfile.TemporaryDirectory(prefix="llmcache-bench-lib-") as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            runs: dict[str, list[Row]] = {kind.name: [] for kind in contenders}
            for _ in range(max(1, args.rounds)):  # interleaved, so a noisy moment hits all alike
                for kind in contenders:
                    if available(kind):
                        server.admin().flushall()
                        runs[kind.name].append(
                            asyncio.run(measure(kind(server.url, server.port), args, symbols))
                        )
            rows = [
                median_row(runs[kind.name])
                if runs[kind.name]
                else Row(kind.name, note=f"install the bench extra ({kind.needs or 'library'})")
                for kind in contenders
            ]
            profile = (
                asyncio.run(profile_llmcache(server.url, server.port, symbols, args.calls))
                if args.profile
                else ""
            )
        finally:
            server.stop()
    floor = rows[0]
    reached = [row.name for row in rows if row.llm_calls]
    if args.json:
        print(json.dumps({"answer_bytes": ANSWER_BYTES, "rows": [asdict(r) for r in rows]}, indent=2))
    else:
        print(
            f"\n== @cached hit path: {args.calls} hits by one caller, {args.calls * 2} by {args.callers} "
            f"callers, {args.keys} warm keys, {ANSWER_BYTES}-byte answers =="
        )
        print(report(rows, floor))
        if profile:
            print("\nllmcache one caller, by own time:\n" + profile)
    if reached:
        raise SystemExit(f"bench_library: timed calls reached the LLM for: {', '.join(reached)}")


if __name__ == "__main__":
    main(__import__("sys").argv[1:])
