"""Benchmark: many concurrent coroutines calling an ``@cached`` LLM function on a real Redis.

Starts its own redis-server on a free port. By default 1,000 coroutines make 100 requests each
(100,000 in all) through one ``CacheService`` (its default pool of 20 connections). The
workload is a trading bot's: 90% of the requests ask about one of 2,000 (symbol, horizon)
pairs with Zipf-like popularity (a few symbols are asked about all the time), 10% carry fresh
input data (a new hash: always a miss). A miss "calls the LLM" (sleeps ``--llm-ms``) and stores
the answer; stampede protection makes concurrent callers of one missing key share that call.

Measured: every request's latency as the caller sees it (p50, p99, max; hits and misses
together), throughput, errors (exceptions, wrong answers, failed cache operations, breaker
openings), the most client connections the server had during the run (``CLIENT LIST``, sampled
from another thread) and those left after ``aclose()``. In the same run, for scale: the same
coroutines doing a bare ``GET`` through ``redis.asyncio`` with the same pool size, and
``redis-benchmark -t get`` with as many connections; the report gives ratios to both.

    python -m benchmarks.bench_load [--coroutines 1000] [--requests 100] [--keys 2000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

from llmcache_cli import CacheService, cached
from llmcache_cli.config import Settings
from tests.support.servers import RedisServer

REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
FRESH_SHARE = 0.10  # requests with new input data: always a miss
SYMBOLS = 500
HORIZONS = ("1d", "1w", "1m", "3m")


@dataclass
class LoadResult:
    coroutines: int
    requests_each: int
    requests: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    hits: int
    misses: int
    llm_calls: int
    errors: int  # exceptions reaching a caller + wrong answers
    cache_errors: int  # cache operations that failed (logged, served as misses)
    breaker_opened: int
    max_connections: int  # the pool's bound
    peak_clients: int  # the most client connections CLIENT LIST showed during the run
    clients_after_close: int
    samples: int  # CLIENT LIST samples taken
    notes: list[str] = field(default_factory=list)


class ClientWatch:
    """Samples ``CLIENT LIST`` from a thread: the most connections seen, not counting this
    one nor those open before the run (another client's, or a readiness check's)."""

    def __init__(self, url: str, interval: float = 0.01) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.before = {int(c["id"]) for c in self.client.client_list()}
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def others(self) -> int:
        return sum(1 for c in self.client.client_list() if int(c["id"]) not in self.before)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.others())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> ClientWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def settle(self, timeout: float = 3.0) -> int:
        """Connections left, once closed ones have gone (the server frees them asynchronously)."""
        deadline = time.monotonic() + timeout
        left = self.others()
        while left and time.monotonic() < deadline:
            time.sleep(0.02)
            left = self.others()
        return left

    def close(self) -> None:
        self.client.close()


def plan(coroutines: int, requests: int, keys: int, seed: int) -> list[list[tuple[str, str, int]]]:
    """Each coroutine's requests: (symbol, horizon, fresh-data id or 0), deterministic."""
    pairs = [(f"S{i % SYMBOLS:03d}", HORIZONS[i // SYMBOLS % len(HORIZONS)]) for i in range(keys)]
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(keys)]
    rng = random.Random(seed)
    fresh = 0
    out = []
    for _ in range(coroutines):
        picks = rng.choices(pairs, weights=weights, k=requests)
        mine = []
        for symbol, horizon in picks:
            if rng.random() < FRESH_SHARE:
                fresh += 1
                mine.append((symbol, horizon, fresh))
            else:
                mine.append((symbol, horizon, 0))
        out.append(mine)
    return out


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


async def _run_cached(
    url: str, work: list[list[tuple[str, str, int]]], llm_ms: float, max_connections: int
) -> dict[str, Any]:
    cache = CacheService(url, settings=Settings(), max_connections=max_connections, timeout=2.0)
    llm_calls = 0

    @cached(ttl=600, data_type="technical", cache=cache)
    async def analyze(symbol: str, horizon: str, data_id: int) -> dict[str, Any]:
        nonlocal llm_calls
        llm_calls += 1
        await asyncio.sleep(llm_ms / 1000)
        return {"symbol": symbol, "horizon": horizon, "data": data_id, "view": "hold"}

    latencies: list[float] = []
    wrong = 0

    async def caller(requests: list[tuple[str, str, int]]) -> None:
        nonlocal wrong
        for symbol, horizon, data_id in requests:
            started = time.perf_counter()
            answer = await analyze(symbol, horizon, data_id)
            latencies.append((time.perf_counter() - started) * 1000)
            if answer["symbol"] != symbol or answer["horizon"] != horizon or answer["data"] != data_id:
                wrong += 1

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(caller(r) for r in work), return_exceptions=True)
    seconds = time.perf_counter() - started
    await cache.aclose()
    return {
        "seconds": seconds,
        "latencies": latencies,
        "exceptions": sum(1 for o in outcomes if isinstance(o, BaseException)),
        "wrong": wrong,
        "llm_calls": llm_calls,
        "stats": cache.stats,
        "opened": cache.breaker.stats.opened,
    }


def run_load(
    url: str,
    *,
    coroutines: int = 1000,
    requests: int = 100,
    keys: int = 2000,
    llm_ms: float = 20.0,
    max_connections: int = 20,
    seed: int = 1,
) -> LoadResult:
    """The load run against the server at ``url`` (which it empties first)."""
    redis.Redis.from_url(url).flushall()
    work = plan(coroutines, requests, keys, seed)
    watch = ClientWatch(url)
    try:
        with watch:
            done = asyncio.run(_run_cached(url, work, llm_ms, max_connections))
        left = watch.settle()
    finally:
        watch.close()
    latencies = sorted(done["latencies"])
    stats = done["stats"]
    total = coroutines * requests
    return LoadResult(
        coroutines=coroutines,
        requests_each=requests,
        requests=total,
        seconds=round(done["seconds"], 3),
        throughput_rps=round(total / done["seconds"], 1),
        p50_ms=round(percentile(latencies, 0.50), 3),
        p99_ms=round(percentile(latencies, 0.99), 3),
        max_ms=round(latencies[-1] if latencies else 0.0, 3),
        hits=stats.hits,
        misses=stats.misses,
        llm_calls=done["llm_calls"],
        errors=done["exceptions"] + done["wrong"] + (total - len(latencies)),
        cache_errors=stats.errors,
        breaker_opened=done["opened"],
        max_connections=max_connections,
        peak_clients=watch.peak,
        clients_after_close=left,
        samples=watch.samples,
    )


async def _bare_gets(url: str, coroutines: int, requests: int, max_connections: int) -> float:
    client = redis.asyncio.Redis.from_url(url, max_connections=max_connections)
    pool_slots = asyncio.Semaphore(max_connections)  # as the library does: never exhaust the pool

    async def caller(i: int) -> None:
        for n in range(requests):
            async with pool_slots:
                await client.get(f"bench:{(i * requests + n) % 2000}")

    started = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(coroutines)))
    seconds = time.perf_counter() - started
    await client.aclose()
    return seconds


def redis_benchmark(port: int, clients: int, total: int) -> dict[str, float] | None:
    """``redis-benchmark -t get`` with as many connections: requests/s and p50 (ms)."""
    try:
        proc = subprocess.run(
            [REDIS_BENCHMARK, "-p", str(port), "-t", "get", "-c", str(clients), "-n", str(total), "-q"],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"GET: ([\d.]+) requests per second, p50=([\d.]+) msec", proc.stdout)
    return {"rps": float(found.group(1)), "p50_ms": float(found.group(2))} if found else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--coroutines", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100, help="requests per coroutine")
    parser.add_argument("--keys", type=int, default=2000, help="distinct (symbol, horizon) pairs")
    parser.add_argument("--llm-ms", type=float, default=20.0, help="simulated LLM latency on a miss")
    parser.add_argument("--max-connections", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = parser.parse_args(list(argv) if argv is not None else None)

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    server = RedisServer(workdir).start()
    try:
        version = server.admin().info("server")["redis_version"]
        result = run_load(
            server.url,
            coroutines=args.coroutines,
            requests=args.requests,
            keys=args.keys,
            llm_ms=args.llm_ms,
            max_connections=args.max_connections,
        )
        total = result.requests
        bare_seconds = asyncio.run(
            _bare_gets(server.url, args.coroutines, args.requests, args.max_connections)
        )
        bare_rps = total / bare_seconds
        reference = redis_benchmark(server.port, args.max_connections, total)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    report: dict[str, Any] = {
        "redis_version": version,
        "python": sys.version.split()[0],
        "llmcache": asdict(result),
        "bare_redis_asyncio_get_rps": round(bare_rps, 1),
        "redis_benchmark_get": reference,
        "ratio_to_bare_get": round(result.throughput_rps / bare_rps, 3),
        "ratio_to_redis_benchmark": round(result.throughput_rps / reference["rps"], 4) if reference else None,
    }
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "bench_load.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    r = result
    print(f"\nload: {r.coroutines} coroutines x {r.requests_each} requests through @cached", end="")
    print(f", redis-server {version}")
    print(f"  {r.requests:,} requests in {r.seconds:.2f} s: {r.throughput_rps:,.0f} requests/s")
    print(f"  latency per request: p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, max {r.max_ms:.1f} ms")
    print(f"  hits {r.hits:,}, misses {r.misses:,}, LLM calls {r.llm_calls:,}", end="")
    print(f" (simulated, {args.llm_ms:g} ms each)")
    print(f"  errors {r.errors}, failed cache operations {r.cache_errors}, breaker opened {r.breaker_opened}")
    print(
        f"  connections: at most {r.peak_clients} during the run (pool bound {r.max_connections}, "
        f"{r.samples} CLIENT LIST samples), {r.clients_after_close} after aclose()"
    )
    print(
        f"  for scale, same run: bare redis.asyncio GET {bare_rps:,.0f} requests/s "
        f"(llmcache x{report['ratio_to_bare_get']:.2f})",
        end="",
    )
    if reference:
        print(
            f"; redis-benchmark GET -c {args.max_connections} {reference['rps']:,.0f} requests/s, "
            f"p50 {reference['p50_ms']:.3f} ms (llmcache x{report['ratio_to_redis_benchmark']:.3f})"
        )
    else:
        print("; redis-benchmark not available")
    return 0 if r.errors == 0 and r.clients_after_close == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
