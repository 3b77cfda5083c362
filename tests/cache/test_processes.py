"""Separate Python processes share the cache: stable keys, and one LLM call between them."""

from __future__ import annotations

import pytest
import redis

from tests.support.workers import finish, run_together, start

pytestmark = pytest.mark.redis


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
    results = run_together(workers, real_redis)
    assert int(real_redis.get("test:llm-calls")) == 1
    assert sorted((r["hits"], r["misses"]) for r in results) == [(0, 1), (1, 0), (1, 0)]
    assert len({r["result"]["by"] for r in results}) == 1
