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
from llmcache_cli.scan import scan_batches
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
    """Pipelined by default; in the server when asked and allowed (Redis 6.2 has no EVAL_RO);
    pipelined when asked but refused by the ACL. The same figures every way."""
    scripts = per_key.SCRIPT if has_eval_ro(handle) else per_key.PIPELINE
    default = collect_stats(handle, full=True)
    inside = collect_stats(handle, full=True, in_server=True)
    refused = collect_stats(no_scripts, full=True, in_server=True)
    methods = (default.breakdown.method, inside.breakdown.method, refused.breakdown.method)
    assert methods == (per_key.PIPELINE, scripts, per_key.PIPELINE)
    assert default.breakdown.namespaces == inside.breakdown.namespaces == refused.breakdown.namespaces
    assert inside.breakdown.scanned == refused.breakdown.scanned == mixed.keys
    assert as_json(inside)["per_key_method"] == scripts
    policy = make_policy(Settings(), None)
    ttls = [inspect_ttls(handle, policy), inspect_ttls(handle, policy, in_server=True)]
    ttls.append(inspect_ttls(no_scripts, policy, in_server=True))
    assert [t.method for t in ttls] == [per_key.PIPELINE, scripts, per_key.PIPELINE]
    first = ttls[0]
    for other in ttls[1:]:
        assert [b.keys for b in other.buckets] == [b.keys for b in first.buckets]
        assert [b.memory_bytes for b in other.buckets] == [b.memory_bytes for b in first.buckets]
        assert other.no_ttl_keys == first.no_ttl_keys


def has_eval_ro(handle: RedisHandle) -> bool:
    return bool(detect_features(handle.nodes[0].client).has("eval_ro"))


def test_the_page_script_reads_what_the_commands_read(real_redis: redis.Redis, handle: RedisHandle) -> None:
    """SCAN, MEMORY USAGE and PTTL inside one script per page: the same figures as the commands
    (memory exactly; PTTL within the milliseconds between the two reads)."""
    if not has_eval_ro(handle):  # Redis 6.2: the probe finds no EVAL_RO, so the pipeline it is
        assert per_key.method_for(handle.nodes[0]) == (per_key.PIPELINE, 0)
        return
    real_redis.set("stays", "y" * 300, ex=100)
    real_redis.set("forever", "z")
    real_redis.hset("a:hash", mapping={"f": "v" * 100})
    batches = list(scan_batches(handle.nodes[0], per_key.commands(per_key.SCRIPT), script=per_key.PAGE))
    figures = {}
    for batch in batches:
        memories, pttls = per_key.split(batch)
        figures.update(zip(batch.keys, zip(memories, pttls, strict=True), strict=True))
    assert set(figures) == {b"stays", b"forever", b"a:hash"}
    for key, (memory, pttl) in figures.items():
        assert memory == real_redis.memory_usage(key)
        assert pttl == -1 if key != b"stays" else 99_000 < pttl <= 100_000
