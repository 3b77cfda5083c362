"""MEMORY USAGE and PTTL inside the server (a read-only script per SCAN page) or pipelined:
the same figures either way, the method named in the report, the fallback when scripting is
refused by the ACL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from llmcache_cli.cli.render.stats_view import as_json
from llmcache_cli.client import ClientOptions, RedisHandle, connect
from llmcache_cli.config import Settings
from llmcache_cli.diagnostics import per_key
from llmcache_cli.diagnostics.dashboard import collect_stats
from llmcache_cli.diagnostics.ttl_audit import inspect_ttls
from llmcache_cli.features import detect_features
from llmcache_cli.scan import Batch
from llmcache_cli.ttl_policy import make_policy
from tests.diagnostics.mixed import Mixed

pytestmark = pytest.mark.redis


@pytest.fixture
def no_scripts(real_redis: redis.Redis, redis_url: str) -> Iterator[RedisHandle]:
    """A user that may read everything but run no script."""
    real_redis.acl_setuser(
        "noscript",
        enabled=True,
        passwords=["+pw"],
        keys=["*"],
        commands=["+@read", "-keys", "+ping", "+info"],
    )
    try:
        with connect(ClientOptions.from_flags(redis_url.replace("redis://", "redis://noscript:pw@"))) as h:
            yield h
    finally:
        real_redis.acl_deluser("noscript")


def test_script_and_pipeline_give_the_same_reports(
    handle: RedisHandle, no_scripts: RedisHandle, mixed: Mixed
) -> None:
    scripts = per_key.SCRIPT if has_eval_ro(handle) else per_key.PIPELINE  # Redis 6.2 has none
    inside = collect_stats(handle, full=True)
    outside = collect_stats(no_scripts, full=True)
    assert (inside.breakdown.method, outside.breakdown.method) == (scripts, per_key.PIPELINE)
    assert inside.breakdown.namespaces == outside.breakdown.namespaces
    assert inside.breakdown.scanned == outside.breakdown.scanned == mixed.keys
    assert as_json(inside)["per_key_method"] == scripts
    policy = make_policy(Settings(), None)
    ttl_inside, ttl_outside = inspect_ttls(handle, policy), inspect_ttls(no_scripts, policy)
    assert (ttl_inside.method, ttl_outside.method) == (scripts, per_key.PIPELINE)
    assert [b.keys for b in ttl_inside.buckets] == [b.keys for b in ttl_outside.buckets]
    assert [b.memory_bytes for b in ttl_inside.buckets] == [b.memory_bytes for b in ttl_outside.buckets]
    assert ttl_inside.no_ttl_keys == ttl_outside.no_ttl_keys


def has_eval_ro(handle: RedisHandle) -> bool:
    return bool(detect_features(handle.nodes[0].client).has("eval_ro"))


def test_a_vanished_key_inside_the_script(real_redis: redis.Redis) -> None:
    """A key gone between SCAN and the script: no memory, PTTL -2, as the pipelined replies
    (EVAL on Redis 6.2, which has no EVAL_RO: the script is the same)."""
    real_redis.set("stays", "y", ex=100)
    command = "EVAL_RO" if detect_features(real_redis).has("eval_ro") else "EVAL"
    reply = real_redis.execute_command(command, per_key._LUA, 0, "stays", "missing")
    memories, pttls = per_key.split(per_key.SCRIPT, Batch([b"stays", b"missing"], [], [reply], 2))
    assert memories[0] == real_redis.memory_usage("stays") and pttls[1] == -2
    assert 0 < pttls[0] <= 100_000
