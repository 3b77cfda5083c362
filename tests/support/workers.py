"""Worker processes for the cross-process library tests (single server and cluster): each
calls a ``@cached`` function once, under its own PYTHONHASHSEED, and prints what happened as
JSON. Their bookkeeping (LLM call count, start signal) goes through an admin client of the
test's choosing: redis-py's ``Redis`` or its ``RedisCluster``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    import redis, redis.cluster
    from llmcache_cli import CacheService, cached
    from llmcache_cli.config import Settings

    label, data, wait_for_go = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
    url = os.environ["LLMCACHE_REDIS_URL"]
    admin_class = redis.cluster.RedisCluster if sys.argv[4] == "cluster" else redis.Redis

    async def main():
        settings = Settings(hash_tag="always" if sys.argv[4] == "cluster" else "never")
        async with CacheService(settings=settings, timeout=2.0) as cache:
            @cached(ttl=300, key_prefix="analysis", cache=cache)
            async def analyze(symbol, data):
                admin.incr("test:llm-calls")
                await asyncio.sleep(float(os.environ.get("LLM_SECONDS", "0")))
                return {"by": label, "inputs": data}

            if wait_for_go:  # start together with the other workers
                admin.incr("test:ready")
                while not admin.exists("test:go"):
                    time.sleep(0.002)
            result = await analyze("AAPL", data)
            return {
                "result": result,
                "key": analyze.cache_key("AAPL", data),
                "hits": cache.stats.hits,
                "misses": cache.stats.misses,
                "cluster": cache.is_cluster,
            }

    admin = admin_class.from_url(url)
    print(json.dumps(asyncio.run(main())))
    """
)


def start(
    label: str, data: str, seed: str, url: str, go: bool, llm_seconds: float = 0, cluster: bool = False
) -> subprocess.Popen[str]:
    """One worker; with ``go`` it waits for the ``test:go`` key before calling."""
    env = {**os.environ, "PYTHONHASHSEED": seed, "LLMCACHE_REDIS_URL": url, "LLM_SECONDS": str(llm_seconds)}
    admin = "cluster" if cluster else "single"
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, label, data, "1" if go else "0", admin],
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


def run_together(workers: list[subprocess.Popen[str]], admin: Any) -> list[dict[str, Any]]:
    """Wait until every worker is ready, start them at once, collect their results."""
    try:
        while int(admin.get("test:ready") or 0) < len(workers):
            assert all(w.poll() is None for w in workers), "a worker died before the start"
            time.sleep(0.01)
        admin.set("test:go", 1)
        return [finish(w) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
