"""The library against the real Redis Cluster: shared entries across processes, one LLM call
for a stampede, single-slot counters and locks, hash-tagged keys, invalidation helpers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import redis.cluster
from redis.crc import key_slot

from llmcache_cli import CacheService, cached
from llmcache_cli.config import Settings
from llmcache_cli.errors import UsageError
from llmcache_cli.keys import lock_key, parse_key, stats_key, symbol_index_key
from tests.cache.conftest import one_service_stampede, run, separate_services_stampede
from tests.cluster.conftest import holders, keyspace
from tests.support.cluster import RedisClusterProcs
from tests.support.workers import finish, run_together, start

pytestmark = pytest.mark.cluster

TAGGED = replace(Settings(), hash_tag="always")  # what a cluster deployment configures


def test_processes_with_different_hash_seeds_share_entries_through_the_cluster(
    cluster_url: str, cluster: redis.cluster.RedisCluster
) -> None:
    first = finish(
        start(
            "first",
            '{"pe": 28.5, "growth": 0.12, "sector": "tech"}',
            "1",
            cluster_url,
            go=False,
            cluster=True,
        )
    )
    second = finish(
        start(
            "second",
            '{"sector": "tech", "growth": 0.12, "pe": 28.5}',
            "2",
            cluster_url,
            go=False,
            cluster=True,
        )
    )
    assert first["cluster"] is True and second["cluster"] is True
    assert (first["hits"], first["misses"]) == (0, 1)
    assert (second["hits"], second["misses"]) == (1, 0)
    assert second["result"]["by"] == "first"
    assert first["key"] == second["key"] and first["key"].startswith("analysis:stock:{AAPL}:")
    assert int(cluster.get("test:llm-calls")) == 1


def test_concurrent_processes_make_one_llm_call_through_the_cluster_lock(
    cluster_url: str, cluster: redis.cluster.RedisCluster
) -> None:
    workers = [
        start(f"w{i}", '{"pe": 10}', str(i), cluster_url, go=True, llm_seconds=1.0, cluster=True)
        for i in range(3)
    ]
    results = run_together(workers, cluster)
    assert int(cluster.get("test:llm-calls")) == 1
    assert sorted((r["hits"], r["misses"]) for r in results) == [(0, 1), (1, 0), (1, 0)]
    assert len({r["result"]["by"] for r in results}) == 1


def test_fifty_concurrent_calls_one_llm_call_and_single_slot_counters(
    cluster_url: str, cluster: redis.cluster.RedisCluster, redis_cluster_procs: RedisClusterProcs
) -> None:
    seen = one_service_stampede(
        lambda: CacheService(cluster_url, settings=TAGGED, timeout=2.0, max_connections=5)
    )
    key = seen.key
    assert seen.calls == 1 and seen.answers == [{"symbol": "NVDA", "call": 1}] * 50
    # One hash per namespace, so one slot on one primary, holding every increment.
    assert len(holders(redis_cluster_procs, stats_key("analysis"))) == 1
    stats = cluster.hgetall(stats_key("analysis"))
    assert (int(stats[b"hits"]), int(stats[b"misses"])) == (49, 1)
    # The entry, its index and its lock share the symbol's slot; the lock is released.
    assert (
        key_slot(key.encode())
        == key_slot(symbol_index_key("NVDA").encode())
        == key_slot(lock_key(key).encode())
    )
    assert cluster.smembers(symbol_index_key("NVDA")) == {key.encode()}
    assert not cluster.exists(lock_key(key))


def test_separate_services_share_one_call_through_the_redis_lock(
    cluster_url: str, cluster: redis.cluster.RedisCluster
) -> None:
    """No in-process sharing between services: only the lock in the cluster stops the stampede."""
    answers, calls = separate_services_stampede(
        lambda: CacheService(cluster_url, settings=TAGGED, timeout=2.0), services=5, calls_each=10
    )
    assert answers == ["answer"] * 50
    assert calls == 1
    stats = cluster.hgetall(stats_key("analysis"))
    assert (int(stats[b"hits"]), int(stats[b"misses"])) == (49, 1)
    assert not any(k.startswith(b"llmcache:lock:") for k in keyspace(cluster))


def test_hash_tag_setting_and_invalidation_of_both_forms(
    cluster_url: str, cluster: redis.cluster.RedisCluster
) -> None:
    async def go() -> Any:
        keys = []
        for mode in ("always", "never"):
            settings = replace(Settings(), hash_tag=mode)
            async with CacheService(cluster_url, settings=settings, timeout=2.0) as cache:
                key = await cache.symbol_key("analysis", "AAPL", "v1")
                keys.append(key)
                assert await cache.set(key, {"mode": mode}, ttl=300)
                assert await cache.set(await cache.symbol_key("analysis", "AAPLX", "v1"), 1, ttl=300)
                assert await cache.set(await cache.symbol_key("sentiment", "AAPL", "v1"), 0, ttl=300)
                assert await cache.get(key) == {"mode": mode}
        async with CacheService(cluster_url, settings=Settings(), timeout=2.0) as fresh:
            result = await fresh.invalidation.on_earnings("AAPL")  # its first call: a scan
        return keys, result

    keys, result = run(go())
    assert keys == ["analysis:stock:{AAPL}:v1", "analysis:stock:AAPL:v1"]
    assert [parse_key(k).symbol() for k in keys] == ["AAPL", "AAPL"]  # type: ignore[union-attr]
    assert (result.matched, result.deleted, result.complete) == (2, 2, True)
    entries = {k for k in keyspace(cluster) if not k.startswith(b"llmcache:")}
    assert entries == {
        b"analysis:stock:{AAPLX}:v1",
        b"analysis:stock:AAPLX:v1",
        b"sentiment:stock:{AAPL}:v1",
        b"sentiment:stock:AAPL:v1",
    }
    assert cluster.smembers(symbol_index_key("AAPL")) == {
        b"sentiment:stock:{AAPL}:v1",
        b"sentiment:stock:AAPL:v1",
    }


def test_purge_version_and_delete_on_the_cluster(
    cluster_url: str, cluster: redis.cluster.RedisCluster
) -> None:
    async def go() -> Any:
        async with CacheService(
            cluster_url, settings=replace(TAGGED, cache_version="v2"), timeout=2.0
        ) as cache:
            for symbol in ("AAPL", "MSFT", "TSLA", "NVDA"):
                assert await cache.set(await cache.symbol_key("analysis", symbol, "v1"), 1, ttl=300)
                assert await cache.set(await cache.symbol_key("analysis", symbol, "v2"), 2, ttl=300)
            purged = await cache.invalidation.purge_version("v1")
            deleted = await cache.delete("analysis:stock:{AAPL}:v2")
            return (
                purged,
                deleted,
                await cache.get_many(["analysis:stock:{MSFT}:v2", "analysis:stock:{AAPL}:v2"]),
            )

    purged, deleted, many = run(go())
    assert (purged.deleted, purged.complete, deleted) == (4, True, True)
    assert many == {"analysis:stock:{MSFT}:v2": 2}
    assert {k for k in keyspace(cluster) if not k.startswith(b"llmcache:")} == {
        f"analysis:stock:{{{s}}}:v2".encode() for s in ("MSFT", "TSLA", "NVDA")
    }
    assert cluster.smembers(symbol_index_key("AAPL")) == set()


def test_cluster_mode_with_a_url_a_cluster_cannot_use_is_refused_at_once() -> None:
    with pytest.raises(UsageError, match="database 0"):
        CacheService("redis://127.0.0.1:6379/3", cluster=True)
    with pytest.raises(UsageError, match="TCP URL"):
        CacheService("unix:///tmp/redis.sock", cluster=True)


def test_near_cache_tracks_every_primary(
    cluster_url: str, cluster: redis.cluster.RedisCluster, redis_cluster_procs: RedisClusterProcs
) -> None:
    """A key on each primary: each is served near, and a write to any of them drops its copy."""
    from tests.cache.test_near import stored, until, warm

    ports = [server.port for server in redis_cluster_procs.primary_servers()]
    keys: dict[int, str] = {}
    for i in range(200):
        key = f"analysis:stock:{{S{i}}}:v1"
        cluster.set(key, stored(i), ex=600)
        keys.setdefault(holders(redis_cluster_procs, key)[0], key)
        if len(keys) == len(ports):
            break
    assert sorted(keys) == sorted(ports)

    async def go() -> list[Any]:
        async with CacheService(cluster_url, settings=Settings(), timeout=2.0, near_cache=100) as cache:
            assert cache.tracker is not None
            for key in keys.values():
                await warm(cache, key)
            assert len(cache.tracker.wires) == len(ports)
            for key in keys.values():
                cluster.set(key, stored("changed"), ex=600)
            await until(lambda: cache.near is not None and len(cache.near) == 0, "every invalidation")
            return [await cache.get(key) for key in keys.values()]

    assert run(go()) == ["changed"] * len(ports)


def test_a_key_is_the_same_before_and_after_connecting(cluster_url: str) -> None:
    async def go() -> list[str]:
        keys = []
        for settings in (Settings(), TAGGED):
            async with CacheService(cluster_url, settings=settings, timeout=2.0) as cache:

                @cached(ttl=60, key_prefix="analysis", cache=cache)
                async def analyze(symbol: str) -> str:
                    return symbol

                before = analyze.cache_key("AAPL")  # type: ignore[attr-defined]
                await analyze("AAPL")
                assert cache.is_cluster and analyze.cache_key("AAPL") == before  # type: ignore[attr-defined]
                keys.append(before)
        return keys

    assert run(go()) == ["analysis:stock:AAPL:v1", "analysis:stock:{AAPL}:v1"]
