"""Benchmark: how fast the near cache lets go, and how much memory it holds.

Starts its own redis-server on a free port.

- Invalidation: a ``CacheService(near_cache=...)`` holds a key near; another process (a writer
  started here, talking to Redis with redis-py) changes or deletes it, ``--trials`` times,
  alternating. Measured per trial: from just before the writer sends its command to the moment
  the near copy is gone (CLOCK_MONOTONIC is shared by the processes; the writer's own
  scheduling delay counts against us), and whether a read 50 ms after the write was asked for
  still served the old answer (it must not).
- Memory: ``--keys`` distinct keys are read through a service whose near cache has a byte bound
  of ``--bound-mib``; the process's resident memory grows by at most the bound plus 20%.

    python -m benchmarks.bench_near [--trials 1000] [--keys 1000000] [--bound-mib 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmcache_cli import CacheService
from llmcache_cli.config import Settings
from llmcache_cli.envelope import encode_envelope
from tests.support.servers import RedisServer

KEY = "analysis:stock:AAPL:v1"
WRITER = textwrap.dedent(
    """
    import sys, time, redis
    client = redis.Redis.from_url(sys.argv[1])
    client.ping()
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        sent = time.monotonic_ns()
        if n % 2:
            client.delete(sys.argv[2])
        else:
            client.set(sys.argv[2], sys.argv[3].replace("N", str(n)), ex=600)
        print(sent, flush=True)
    """
)


def payload(n: int, size: int = 800) -> bytes:
    return encode_envelope({"n": n, "text": "x" * size}, {"cost_usd": 0.01, "latency_ms": 900.0})


async def invalidation(url: str, trials: int) -> dict[str, Any]:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, KEY, payload(-1).decode().replace("-1", "N", 1)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    gone_ms: list[float] = []
    stale_reads = 0
    async with CacheService(url, settings=Settings(), near_cache=1000) as cache:
        near = cache.near
        assert near is not None
        await cache.set(KEY, {"n": -1}, ttl=600)
        for n in range(trials):
            if n and not n % 2:  # the last trial deleted it: put it back first
                await cache.set(KEY, {"n": n - 1}, ttl=600)
            deadline = time.monotonic() + 5
            old = await cache.get(KEY)
            while KEY not in near._entries:  # read until it is held near again
                await cache.get(KEY)
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench_near: trial {n}: the key never became near again ({near.stats})")
                await asyncio.sleep(0.001)
            asked = time.monotonic_ns()
            writer.stdin.write(f"{n}\n")
            writer.stdin.flush()
            checked = False
            while KEY in near._entries:
                if not checked and time.monotonic_ns() - asked > 50_000_000:
                    checked = True  # 50 ms after the write was asked for: is the old copy served?
                    if await cache.get(KEY) == old:
                        stale_reads += 1
                await asyncio.sleep(0)
            dropped = time.monotonic_ns()
            sent = int(await asyncio.get_running_loop().run_in_executor(None, writer.stdout.readline))
            gone_ms.append((dropped - sent) / 1e6)
    writer.stdin.close()
    writer.wait(timeout=10)
    ordered = sorted(gone_ms)
    return {
        "trials": trials,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "max_ms": ordered[-1],
        "stale_reads_after_50ms": stale_reads,
    }


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


async def memory(url: str, keys: int, bound: int) -> dict[str, Any]:
    import redis

    admin = redis.Redis.from_url(url)
    names = [f"analysis:stock:S{i}:v1" for i in range(keys)]
    pipe = admin.pipeline(transaction=False)
    for i, name in enumerate(names):
        pipe.set(name, payload(i, 200), ex=3600)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    async with CacheService(url, settings=Settings(), near_cache=keys, near_cache_bytes=bound) as cache:
        near = cache.near
        assert near is not None
        await cache.get(names[0])
        while not near.ready:
            await asyncio.sleep(0.01)
            await cache.get(names[0])
        before = rss_bytes()
        started = time.perf_counter()
        for i in range(0, keys, 200):
            await cache.get_many(names[i : i + 200])
        seconds = time.perf_counter() - started
        grown = rss_bytes() - before
        held, held_bytes = len(near), near.bytes
    admin.flushall()
    return {
        "keys_read": keys,
        "seconds": seconds,
        "bound_bytes": bound,
        "entries_held": held,
        "accounted_bytes": held_bytes,
        "rss_growth_bytes": grown,
        "growth_over_bound": grown / bound,
    }


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="bench_near")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--bound-mib", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args, _ = parser.parse_known_args(list(argv))
    with tempfile.TemporaryDirectory(prefix="llmcache-bench-near-") as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            inv = asyncio.run(invalidation(server.url, args.trials))
            mem = asyncio.run(memory(server.url, args.keys, args.bound_mib * 1024 * 1024))
        finally:
            server.stop()
    if args.json:
        print(json.dumps({"invalidation": inv, "memory": mem}, indent=2))
        return
    print(f"\n== near cache: {inv['trials']} changes/deletions by another process ==")
    print(
        f"copy gone after p50 {inv['p50_ms']:.2f} ms, p99 {inv['p99_ms']:.2f} ms, "
        f"max {inv['max_ms']:.2f} ms; "
        f"reads serving the old answer 50 ms after the write was asked for: {inv['stale_reads_after_50ms']}"
    )
    print(f"== near cache memory: {mem['keys_read']:,} distinct keys read in {mem['seconds']:.1f} s ==")
    print(
        f"bound {mem['bound_bytes'] / 2**20:.0f} MiB; held {mem['entries_held']:,} entries, "
        f"{mem['accounted_bytes'] / 2**20:.1f} MiB accounted; "
        f"process grew {mem['rss_growth_bytes'] / 2**20:.1f} MiB "
        f"= {mem['growth_over_bound']:.2f}x the bound"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
