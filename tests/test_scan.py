"""Batched SCAN and the pipelined per-key step, on the real server."""

from __future__ import annotations

import pytest
import redis

from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.scan import KEY, scan_fetch, scan_keys, total_keys

pytestmark = pytest.mark.redis


def fill(client: redis.Redis, n: int) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"analysis:stock:S{i}:v1", "x" * (i % 50))
    pipe.hset("h:stock:AAPL", "f", "v")
    pipe.rpush("l:stock:AAPL", "a", "b")
    pipe.execute()


def test_scan_keys_sees_every_key_once(real_redis: redis.Redis, redis_url: str) -> None:
    fill(real_redis, 2500)
    with connect(ClientOptions.from_flags(redis_url)) as handle:
        seen = [k for batch in scan_keys(handle.nodes[0], count=100) for k in batch]
        assert len(seen) == len(set(seen)) == 2502 == total_keys(handle)
        only = {k for batch in scan_keys(handle.nodes[0], match="h:*") for k in batch}
        assert only == {b"h:stock:AAPL"}


def test_scan_fetch_matches_individual_commands(real_redis: redis.Redis, redis_url: str) -> None:
    fill(real_redis, 1200)
    real_redis.expire("analysis:stock:S1:v1", 100)
    commands = [("MEMORY", "USAGE", KEY, "SAMPLES", "0"), ("TTL", KEY), ("TYPE", KEY)]
    with connect(ClientOptions.from_flags(redis_url)) as handle:
        got = {f.key: f.replies for batch in scan_fetch(handle.nodes[0], commands, count=97) for f in batch}
    assert len(got) == 1202
    for key in (b"analysis:stock:S1:v1", b"analysis:stock:S7:v1", b"h:stock:AAPL", b"l:stock:AAPL"):
        mem, ttl, type_ = got[key]
        assert mem == real_redis.memory_usage(key, samples=0)
        assert ttl == real_redis.ttl(key)
        assert type_ == real_redis.type(key)


def test_vanished_keys_are_dropped_by_keep(real_redis: redis.Redis, redis_url: str) -> None:
    fill(real_redis, 300)
    with connect(ClientOptions.from_flags(redis_url)) as handle:
        kept = []
        for batch in scan_fetch(
            handle.nodes[0], [("MEMORY", "USAGE", KEY)], count=50, keep=lambda f: f.replies[0] is not None
        ):
            kept.extend(batch)
            real_redis.delete(*[f"analysis:stock:S{i}:v1" for i in range(300)])  # vanish mid-scan
    assert all(f.replies[0] for f in kept)
    assert len(kept) < 302
