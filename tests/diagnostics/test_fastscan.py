"""The fast batched SCAN: same answers as one command per key, clean connections afterwards."""

from __future__ import annotations

import pytest
import redis

from llmcache_cli.client import ClientOptions, RedisHandle, connect
from llmcache_cli.diagnostics.fastscan import KeyCommands, pack_command, scan_batches
from llmcache_cli.errors import PermissionDenied
from llmcache_cli.scan import KEY

pytestmark = pytest.mark.redis


def fill(client: redis.Redis, n: int) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"analysis:stock:S{i}:v1", "x" * (i % 70), ex=1000 + i)
    pipe.hset("h:stock:AAPL", "f", "v")
    pipe.rpush("l:stock:AAPL", "a", "b")
    pipe.execute()


def test_pack_command_is_resp() -> None:
    assert pack_command("PTTL", b"k\r\n") == b"*2\r\n$4\r\nPTTL\r\n$3\r\nk\r\n\r\n"
    commands = KeyCommands(("MEMORY", "USAGE", KEY, "SAMPLES", 0), ("PTTL", KEY))
    assert commands.pack([b"a%b"]) == pack_command("MEMORY", "USAGE", b"a%b", "SAMPLES", 0) + pack_command(
        "PTTL", b"a%b"
    )


def test_templates_must_name_the_key_once() -> None:
    with pytest.raises(ValueError):
        KeyCommands(("PTTL",))
    with pytest.raises(ValueError):
        KeyCommands(("COPY", KEY, KEY))


def test_replies_match_one_command_per_key(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 2600)
    commands = KeyCommands(("MEMORY", "USAGE", KEY), ("PTTL", KEY), ("TYPE", KEY))
    got = {}
    for batch in scan_batches(handle.nodes[0], commands, count=300):
        assert len(batch.replies) == 3 * len(batch.keys)
        for i, key in enumerate(batch.keys):
            got[key] = tuple(batch.replies[3 * i : 3 * i + 3])
    assert len(got) == real_redis.dbsize() == 2602
    for key in (b"analysis:stock:S1:v1", b"analysis:stock:S2599:v1", b"h:stock:AAPL", b"l:stock:AAPL"):
        memory, pttl, type_ = got[key]
        assert memory == real_redis.memory_usage(key)
        assert abs(pttl - real_redis.pttl(key)) < 5000
        assert type_ == real_redis.type(key)


def test_match_max_keys_and_keep(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 3000)
    node = handle.nodes[0]
    commands = KeyCommands(("PTTL", KEY))
    matched = [k for b in scan_batches(node, commands, match="[hl]:*") for k in b.keys]
    assert sorted(matched) == [b"h:stock:AAPL", b"l:stock:AAPL"]
    sampled = [k for b in scan_batches(node, commands, count=100, max_keys=250) for k in b.keys]
    assert 250 <= len(sampled) < 450
    kept = [k for b in scan_batches(node, commands, keep=lambda k: k.endswith(b"7:v1")) for k in b.keys]
    assert len(kept) == 300 and all(k.endswith(b"7:v1") for k in kept)


def test_connection_is_clean_after_a_break(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 3000)
    node = handle.nodes[0]
    for _ in scan_batches(node, KeyCommands(("MEMORY", "USAGE", KEY)), count=100):
        break  # replies of the next batch are in flight: that connection must not be reused
    assert node.client.get("analysis:stock:S3:v1") == b"xxx"
    assert node.client.ping() is True
    lengths = [
        r
        for b in scan_batches(node, KeyCommands(("STRLEN", KEY)), match="analysis:stock:S5:*")
        for r in b.replies
    ]
    assert lengths == [5]


def test_per_key_errors_are_returned_not_raised(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 10)
    batches = list(scan_batches(handle.nodes[0], KeyCommands(("GET", KEY))))
    replies = {k: r for b in batches for k, r in zip(b.keys, b.replies, strict=True)}
    assert (
        isinstance(replies[b"h:stock:AAPL"], redis.ResponseError)
        and replies[b"analysis:stock:S2:v1"] == b"xx"
    )


def test_missing_permission_is_raised(real_redis: redis.Redis, redis_url: str) -> None:
    fill(real_redis, 10)
    real_redis.execute_command("ACL", "SETUSER", "nomem", "on", ">pw", "~*", "+@all", "-memory")
    try:
        url = redis_url.replace("redis://", "redis://nomem:pw@")
        with connect(ClientOptions.from_flags(url)) as limited:
            node = limited.nodes[0]
            with pytest.raises(PermissionDenied), limited.translated(node):
                list(scan_batches(node, KeyCommands(("MEMORY", "USAGE", KEY))))
    finally:
        real_redis.execute_command("ACL", "DELUSER", "nomem")
