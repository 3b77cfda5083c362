"""Separate Python processes share the cache: stable keys, and one LLM call between them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import redis

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]

# One worker process: calls a decorated function once and prints what happened as JSON.
WORKER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    import redis
    from llmcache_cli import CacheService, cached
    from llmcache_cli.config import Settings

    label, data, wait_for_go = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
    url = os.environ["LLMCACHE_REDIS_URL"]

    async def main():
        async with CacheService(settings=Settings()) as cache:
            @cached(ttl=300, key_prefix="analysis", cache=cache)
            async def analyze(symbol, data):
                admin.incr("test:llm-calls")
                await asyncio.sleep(float(os.environ.get("LLM_SECONDS", "0")))
                return {"by": label, "inputs": data}

            if wait_for_go:  # start together with the other worker
                admin.incr("test:ready")
                while not admin.exists("test:go"):
                    time.sleep(0.002)
            result = await analyze("AAPL", data)
            return {
                "result": result,
                "key": analyze.cache_key("AAPL", data),
                "hits": cache.stats.hits,
                "misses": cache.stats.misses,
            }

    admin = redis.Redis.from_url(url)
    print(json.dumps(asyncio.run(main())))
    """
)


def start(
    label: str, data: str, seed: str, url: str, go: bool, llm_seconds: float = 0
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONHASHSEED": seed,
        "LLMCACHE_REDIS_URL": url,
        "LLM_SECONDS": str(llm_seconds),
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, label, data, "1" if go else "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_processes_with_different_hash_seeds_share_entries(redis_url: str, real_redis: redis.Redis) -> None:
    first = finish(start("first", '{"pe": 28.5, "growth": 0.12, "sector": "tech"}', "1", redis_url, go=False))
    second = finish(
        start("second", '{"sector": "tech", "growth": 0.12, "pe": 28.5}', "2", redis_url, go=False)
    )
    assert (first["hits"], first["misses"]) == (0, 1)
    assert (second["hits"], second["misses"]) == (1, 0)
    assert second["result"]["by"] == "first"  # the value the first process stored
    assert first["key"] == second["key"]
    assert int(real_redis.get("test:llm-calls")) == 1


def test_concurrent_processes_make_one_llm_call(redis_url: str, real_redis: redis.Redis) -> None:
    workers = [start(f"w{i}", '{"pe": 10}', str(i), redis_url, go=True, llm_seconds=1.0) for i in range(3)]
    try:
        while int(real_redis.get("test:ready") or 0) < len(workers):
            assert all(w.poll() is None for w in workers), "a worker died before the start"
            time.sleep(0.01)
        real_redis.set("test:go", 1)
        results = [finish(w) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert int(real_redis.get("test:llm-calls")) == 1
    assert sorted((r["hits"], r["misses"]) for r in results) == [(0, 1), (1, 0), (1, 0)]
    assert len({r["result"]["by"] for r in results}) == 1
