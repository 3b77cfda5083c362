"""large-keys on the real server: exact sizes, every key type, vanishing keys, Ctrl-C."""

from __future__ import annotations

import pytest
import redis

from llmcache_cli.cli.render.large_keys_view import as_json
from llmcache_cli.client import RedisHandle
from llmcache_cli.diagnostics.common import INTERNAL_NAMESPACE, NO_NAMESPACE
from llmcache_cli.diagnostics.key_sizes import find_large_keys
from tests.diagnostics.conftest import interrupt
from tests.diagnostics.mixed import Mixed, independent_sizes

pytestmark = pytest.mark.redis


def test_top_sizes_equal_an_independent_full_scan(
    real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed
) -> None:
    report = find_large_keys(handle, top=7)
    reference = independent_sizes(real_redis)
    assert report.scanned == len(reference) == real_redis.dbsize() == mixed.keys
    assert [k.bytes for k in report.keys] == sorted(reference.values(), reverse=True)[:7]
    for item in report.keys:
        assert item.bytes == reference[item.key.encode()]
        assert item.type == real_redis.type(item.key).decode()
    assert report.total_memory_bytes == sum(reference.values())
    assert sum(ns.keys for ns in report.namespaces) == report.scanned
    aapl = next(k for k in report.keys if k.key == "analysis:stock:AAPL:v1")  # the largest envelope
    assert aapl.namespace == "analysis" and 2990 <= (aapl.ttl_seconds or 0) <= 3000


def test_every_type_and_namespace_label(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    report = find_large_keys(handle, top=mixed.keys)
    types = {k.type for k in report.keys}
    assert types == {"string", "hash", "list", "set", "zset", "stream"}
    by_key = {k.key: k for k in report.keys}
    assert by_key["l:stock:AAPL"].ttl_seconds is None
    assert by_key["standalone"].namespace == NO_NAMESPACE
    assert by_key["llmcache:stats:analysis"].namespace == INTERNAL_NAMESPACE
    names = {ns.namespace for ns in report.namespaces}
    assert {"analysis", "chatbot", "h", INTERNAL_NAMESPACE, NO_NAMESPACE} <= names


def test_pattern_and_samples_are_passed_through(real_redis: redis.Redis, handle: RedisHandle) -> None:
    real_redis.hset("big:hash:one", mapping={f"f{i}": "v" * (i % 97) for i in range(600)})  # a hashtable
    real_redis.set("other:key:x", "y")
    exact = find_large_keys(handle, top=1, samples=0, pattern="big:*")
    assert exact.scanned == 1
    assert exact.keys[0].bytes == real_redis.memory_usage("big:hash:one", samples=0)
    rough = find_large_keys(handle, top=1, samples=1, pattern="big:*")
    assert rough.keys[0].bytes == real_redis.memory_usage("big:hash:one", samples=1)
    assert as_json(exact)["samples"] == 0 and as_json(exact)["pattern"] == "big:*"


def test_keys_vanishing_mid_scan_are_skipped(real_redis: redis.Redis, handle: RedisHandle) -> None:
    pipe = real_redis.pipeline(transaction=False)
    for i in range(5000):
        pipe.set(f"analysis:stock:S{i}:v1", "x" * (i % 100))
    pipe.execute()

    def delete_everything(_: int) -> None:
        real_redis.flushdb()

    report = find_large_keys(handle, top=5, on_progress=delete_everything)
    assert not report.partial
    assert report.scanned + report.vanished <= 5000
    assert report.keys == ()  # the winners were gone by the time their TYPE was asked


def test_ctrl_c_returns_what_was_found(real_redis: redis.Redis, handle: RedisHandle) -> None:
    pipe = real_redis.pipeline(transaction=False)
    for i in range(5000):
        pipe.set(f"analysis:stock:S{i}:v1", "x" * (i % 100))
    pipe.execute()

    report = find_large_keys(handle, top=3, on_progress=interrupt)
    assert report.partial
    assert 0 < report.scanned < 5000
    assert len(report.keys) == 3
    assert real_redis.ping()  # and the server connection is still usable
    assert handle.nodes[0].client.get("analysis:stock:S1:v1") == b"x"
