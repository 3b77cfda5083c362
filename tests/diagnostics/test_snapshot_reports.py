"""Reports from a snapshot equal the live reports of the same keyspace: the mixed keyspace is
measured live, saved by the server (SAVE), and read back from its dump.rdb with no server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from llmcache_cli.client import RedisHandle
from llmcache_cli.config import Settings
from llmcache_cli.diagnostics import snapshot_reports as snapshot
from llmcache_cli.diagnostics.key_sizes import find_large_keys
from llmcache_cli.diagnostics.ttl_audit import inspect_ttls
from llmcache_cli.ttl_policy import make_policy
from tests.diagnostics.mixed import Mixed
from tests.rdb.tolerance import Model, assert_same_top, model_of

pytestmark = pytest.mark.redis


def saved(client: redis.Redis) -> Path:
    client.save()
    return Path(client.config_get("dir")["dir"]) / str(client.config_get("dbfilename")["dbfilename"])


def source(client: redis.Redis, model: Model, now_ms: int | None = None) -> snapshot.SnapshotSource:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return snapshot.SnapshotSource((saved(client),), now_ms=now, allocator=model.allocator)


def namespace_close(model: Model, estimate: int, live: int, keys: int) -> bool:
    """A sum over ``keys`` keys: 10%, plus each key's own slack where the allocator has some."""
    return abs(estimate - live) <= 0.1 * live + keys * model.slack(0)


def test_large_keys_from_a_snapshot_equal_the_live_report(
    real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed
) -> None:
    model = model_of(real_redis)
    live = find_large_keys(handle, top=12)
    report, summary = snapshot.large_keys(source(real_redis, model), top=12)
    assert summary.files[0].checksum == "ok"
    assert report.scanned == live.scanned == mixed.keys and report.vanished == 0
    assert_same_top(
        model, [(k.key, k.bytes, k.type) for k in report.keys], [(k.key, k.bytes, k.type) for k in live.keys]
    )
    by_key = {k.key: k for k in live.keys}
    for item in report.keys:
        twin = by_key.get(item.key)
        if twin is None:
            continue  # a near tie at the cut
        assert (item.type, item.namespace) == (twin.type, twin.namespace)
        assert (item.ttl_seconds is None) == (twin.ttl_seconds is None)
        if item.ttl_seconds is not None:
            assert abs(item.ttl_seconds - twin.ttl_seconds) <= 2  # type: ignore[operator]
    live_ns = {ns.namespace: ns for ns in live.namespaces}
    assert set(live_ns) == {ns.namespace for ns in report.namespaces}
    for ns in report.namespaces:
        assert ns.keys == live_ns[ns.namespace].keys
        assert namespace_close(model, ns.memory_bytes, live_ns[ns.namespace].memory_bytes, ns.keys)
    gap = abs(report.total_memory_bytes - live.total_memory_bytes)
    assert gap <= model.total_share * live.total_memory_bytes


def test_ttl_from_a_snapshot_equals_the_live_report(
    real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed
) -> None:
    model = model_of(real_redis)
    policy = make_policy(Settings(), None)
    live = inspect_ttls(handle, policy)
    report, _ = snapshot.inspect_ttls(source(real_redis, model), policy)
    assert (report.scanned, report.no_ttl, report.over_policy, report.exact) == (
        live.scanned,
        live.no_ttl,
        live.over_policy,
        live.exact,
    )
    # cache entries only: llmcache's bookkeeping and other namespaces are counted apart
    for apart, twin in ((report.bookkeeping, live.bookkeeping), (report.other, live.other)):
        assert (apart.keys, apart.no_ttl) == (twin.keys, twin.no_ttl)
    assert report.no_ttl + report.bookkeeping.no_ttl + report.other.no_ttl == mixed.no_ttl
    for mine, theirs in zip(report.buckets, live.buckets, strict=True):
        assert (mine.label, mine.keys) == (theirs.label, theirs.keys)
        assert namespace_close(model, mine.memory_bytes, theirs.memory_bytes, mine.keys)
    for mine, theirs in zip(report.data_types, live.data_types, strict=True):
        assert (mine.group, mine.keys, mine.no_ttl, mine.over_policy) == (
            theirs.group,
            theirs.keys,
            theirs.no_ttl,
            theirs.over_policy,
        )
        assert mine.max_ttl_seconds is None or abs(mine.max_ttl_seconds - theirs.max_ttl_seconds) <= 2  # type: ignore[operator]
    # the largest keys without a TTL: the same, but for near ties at the cut
    assert_same_top(
        model,
        [(k.key, k.memory_bytes, k.type) for k in report.no_ttl_keys],
        [(k.key, k.memory_bytes, k.type) for k in live.no_ttl_keys],
    )
    # the furthest over: ties within a few ms fall either way (live PTTLs are read over time)
    assert len(report.over_policy_keys) == len(live.over_policy_keys)
    assert report.over_policy_keys[0].key == live.over_policy_keys[0].key


def test_now_decides_what_has_expired(real_redis: redis.Redis, mixed: Mixed) -> None:
    policy = make_policy(Settings(), None)
    later = int(time.time() * 1000) + 10 * 60 * 1000  # ten minutes on: the shortest TTLs are gone
    report, _ = snapshot.inspect_ttls(source(real_redis, model_of(real_redis), later), policy)
    expected_gone = sum(
        1 for key in real_redis.scan_iter() if 0 < real_redis.pttl(key) < 10 * 60 * 1000 - 5000
    )
    assert expected_gone > 0
    assert report.vanished >= expected_gone and report.scanned == mixed.keys - report.vanished
    assert report.buckets[0].keys == 0 or report.buckets[0].label != "<1 min"


def test_stats_full_from_a_snapshot_equals_the_live_dashboard(
    real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed
) -> None:
    from llmcache_cli.diagnostics.dashboard import collect_stats
    from llmcache_cli.diagnostics.snapshot_stats import collect_stats as from_snapshot

    model = model_of(real_redis)
    live = collect_stats(handle, full=True)
    report, _ = from_snapshot(source(real_redis, model))
    assert (report.keyspace.keys, report.keyspace.keys_with_ttl) == (
        live.keyspace.keys,
        live.keyspace.keys_with_ttl,
    )
    assert report.breakdown.exact and report.breakdown.scanned == live.breakdown.scanned == mixed.keys
    assert report.llm.total == live.llm.total and report.llm.total.hits == 70
    assert report.llm.namespaces == live.llm.namespaces
    assert report.llm.hashes_without_ttl == live.llm.hashes_without_ttl
    live_ns = {ns.namespace: ns for ns in live.breakdown.namespaces}
    for ns in report.breakdown.namespaces:
        twin = live_ns[ns.namespace]
        assert (ns.keys, ns.no_ttl_keys, ns.data_type) == (twin.keys, twin.no_ttl_keys, twin.data_type)
        assert namespace_close(model, ns.memory_bytes, twin.memory_bytes, ns.keys)
    assert {w.code for w in report.warnings} <= {w.code for w in live.warnings}
    assert (report.server.version, report.server.product) == (live.server.version, live.server.product)
