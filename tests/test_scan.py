"""The one batched SCAN (``llmcache_cli.scan``) on the real server: the same answers as one
command per key, pre-packed RESP, overlapped or strictly sequential round trips, batch-level
commands, clean connections afterwards, and one scan per node run concurrently."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator

import pytest
import redis

from llmcache_cli.client import ClientOptions, Node, RedisHandle, connect
from llmcache_cli.errors import ConnectionFailed, PermissionDenied
from llmcache_cli.features import detect_features
from llmcache_cli.resp import pack_command
from llmcache_cli.scan import (
    KEY,
    KeyCommands,
    PageScript,
    each_node,
    fetch,
    scan_batches,
    scan_keys,
    total_keys,
)
from tests.support.servers import free_port

pytestmark = pytest.mark.redis


def fill(client: redis.Redis, n: int, ttl: bool = False) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"analysis:stock:S{i}:v1", "x" * (i % 50), ex=1000 + i if ttl else None)
    pipe.hset("h:stock:AAPL", "f", "v")
    pipe.rpush("l:stock:AAPL", "a", "b")
    pipe.execute()


def test_scan_keys_sees_every_key_once(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 2500)
    seen = [k for batch in scan_keys(handle.nodes[0], count=100) for k in batch]
    assert len(seen) == len(set(seen)) == 2502 == total_keys(handle)
    only = {k for batch in scan_keys(handle.nodes[0], match="h:*") for k in batch}
    assert only == {b"h:stock:AAPL"}
    lists = {k for batch in scan_keys(handle.nodes[0], type_="list") for k in batch}
    assert lists == {b"l:stock:AAPL"}


def test_pack_command_is_resp() -> None:
    assert pack_command("PTTL", b"k\r\n") == b"*2\r\n$4\r\nPTTL\r\n$3\r\nk\r\n\r\n"
    commands = KeyCommands(("MEMORY", "USAGE", KEY, "SAMPLES", 0), ("PTTL", KEY))
    assert commands.pack([b"a%b"]) == pack_command("MEMORY", "USAGE", b"a%b", "SAMPLES", 0) + pack_command(
        "PTTL", b"a%b"
    )
    assert KeyCommands().width == 0 and KeyCommands().pack([b"a", b"b"]) == b""


def test_templates_must_name_the_key_once() -> None:
    with pytest.raises(ValueError):
        KeyCommands(("PTTL",))
    with pytest.raises(ValueError):
        KeyCommands(("COPY", KEY, KEY))
    with pytest.raises(TypeError):
        pack_command("EXPIRE", b"k", 1.5)


@pytest.mark.parametrize("overlap", [True, False])
def test_replies_match_one_command_per_key(
    real_redis: redis.Redis, handle: RedisHandle, overlap: bool
) -> None:
    fill(real_redis, 1200, ttl=True)
    real_redis.persist("analysis:stock:S7:v1")
    commands = KeyCommands(("MEMORY", "USAGE", KEY, "SAMPLES", "0"), ("TTL", KEY), ("TYPE", KEY))
    got = {}
    scanned = 0
    for batch in scan_batches(handle.nodes[0], commands, count=97, overlap=overlap):
        assert len(batch.replies) == 3 * len(batch.keys) and batch.tail == []
        assert batch.scanned == len(batch.keys)
        scanned += batch.scanned
        for i, key in enumerate(batch.keys):
            got[key] = tuple(batch.replies[3 * i : 3 * i + 3])
    assert len(got) == scanned == real_redis.dbsize() == 1202
    for key in (b"analysis:stock:S1:v1", b"analysis:stock:S7:v1", b"h:stock:AAPL", b"l:stock:AAPL"):
        memory, ttl, type_ = got[key]
        assert memory == real_redis.memory_usage(key, samples=0)
        assert abs(ttl - real_redis.ttl(key)) <= 1  # a second may tick between the two reads
        assert type_ == real_redis.type(key)
    assert got[b"analysis:stock:S7:v1"][1] == -1


# A page script returning each key's TYPE and STRLEN-or-0, in key order (width 2).
TYPE_AND_LENGTH = PageScript(
    """
local page = redis.call('SCAN', unpack(ARGV))
local out = {}
for i, key in ipairs(page[2]) do
  local kind = redis.call('TYPE', key)['ok']
  out[2 * i - 1] = kind
  out[2 * i] = kind == 'string' and redis.call('STRLEN', key) or 0
end
return {page[1], page[2], out}
""",
    width=2,
)


@pytest.mark.parametrize("overlap", [True, False])
def test_a_page_script_brings_each_keys_replies(
    real_redis: redis.Redis, handle: RedisHandle, overlap: bool
) -> None:
    fill(real_redis, 1500)
    node = handle.nodes[0]
    if not detect_features(real_redis).has("eval_ro"):  # Redis 6.2: an error reply, raised
        with pytest.raises(redis.ResponseError, match=r"(?i)unknown command"):
            list(scan_batches(node, script=TYPE_AND_LENGTH))
        return
    got: dict[bytes, tuple[bytes, int]] = {}
    pages = scan_batches(node, script=TYPE_AND_LENGTH, count=97, overlap=overlap)
    for batch in pages:
        assert len(batch.replies) == 2 * len(batch.keys) == 2 * batch.scanned and batch.tail == []
        for i, key in enumerate(batch.keys):
            got[key] = (batch.replies[2 * i], batch.replies[2 * i + 1])
    assert pages.complete and len(got) == real_redis.dbsize() == 1502
    assert got[b"analysis:stock:S7:v1"] == (b"string", 7) and got[b"h:stock:AAPL"] == (b"hash", 0)
    # match, keep (each kept key once, with its own replies) and max_keys, as with SCAN
    odd = scan_batches(
        node, script=TYPE_AND_LENGTH, match="analysis:*", keep=lambda k: int(k.split(b":")[2][1:]) % 2 == 1
    )
    kept = {k: (b.replies[2 * i], b.replies[2 * i + 1]) for b in odd for i, k in enumerate(b.keys)}
    assert kept == {
        k: v for k, v in got.items() if k.startswith(b"analysis:") and int(k.split(b":")[2][1:]) % 2
    }
    sampled = scan_batches(node, script=TYPE_AND_LENGTH, count=100, max_keys=250)
    assert 250 <= sum(b.scanned for b in sampled) < 450 and not sampled.complete
    with pytest.raises(ValueError):
        scan_batches(node, KeyCommands(("PTTL", KEY)), script=TYPE_AND_LENGTH)


def test_match_max_keys_and_keep(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 3000)
    node = handle.nodes[0]
    commands = KeyCommands(("PTTL", KEY))
    matched = [k for b in scan_batches(node, commands, match="[hl]:*") for k in b.keys]
    assert sorted(matched) == [b"h:stock:AAPL", b"l:stock:AAPL"]
    sampled = scan_batches(node, commands, count=100, max_keys=250)
    keys = [k for b in sampled for k in b.keys]
    assert 250 <= len(keys) < 450 and not sampled.complete
    everything = scan_batches(node, commands)
    assert sum(b.scanned for b in everything) == 3002 and everything.complete
    kept = scan_batches(node, commands, keep=lambda k: k.endswith(b"7:v1"))
    batches = list(kept)
    assert sum(b.scanned for b in batches) == 3002  # every page comes back, empty ones included
    assert sorted(k for b in batches for k in b.keys) == sorted(
        f"analysis:stock:S{i}:v1".encode() for i in range(3000) if i % 10 == 7
    )
    assert all(len(b.replies) == len(b.keys) for b in batches)


def test_tail_commands_ride_with_their_batch(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 500)
    real_redis.sadd("index", *[f"analysis:stock:S{i}:v1" for i in range(500)], "other")
    doomed = 0
    batches = scan_batches(
        handle.nodes[0],
        KeyCommands(("STRLEN", KEY)),
        match="analysis:*",
        count=60,
        keep=lambda k: k.endswith(b"3:v1"),
        tail=lambda keys: [("UNLINK", *keys), ("SREM", "index", *keys)],
        overlap=False,
    )
    for batch in batches:
        if batch.keys:
            assert batch.tail == [len(batch.keys), len(batch.keys)]  # UNLINK, then SREM, counted
            # the per-key commands ran before the tail's UNLINK, in the same write
            assert batch.replies == [int(k.split(b":")[2][1:]) % 50 for k in batch.keys]
            doomed += len(batch.keys)
        else:
            assert batch.tail == []  # no tail for a batch without keys
    assert doomed == 50
    assert not any(k.endswith(b"3:v1") for k in real_redis.scan_iter(count=1000))
    assert real_redis.scard("index") == 451


@pytest.mark.parametrize("overlap", [False, True])
def test_what_is_in_flight_while_the_caller_holds_a_batch(
    real_redis: redis.Redis, handle: RedisHandle, overlap: bool
) -> None:
    pipe = real_redis.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"analysis:stock:S{i}:v1", "x")
    pipe.execute()
    batches = iter(scan_batches(handle.nodes[0], KeyCommands(("GET", KEY)), count=50, overlap=overlap))
    first = next(batches)
    assert first.keys and first.replies == [b"x"] * len(first.keys)
    real_redis.delete(*[f"analysis:stock:S{i}:v1" for i in range(300)])
    second = next(batches)
    assert second.keys  # listed by a SCAN that ran before the deletion
    if overlap:  # its GETs were sent (and ran) before the caller got the first batch
        assert second.replies == [b"x"] * len(second.keys)
    else:  # nothing was sent for it until the caller came back: its keys vanished meanwhile
        assert second.replies == [None] * len(second.keys)
    rest = [r for b in batches for r in b.replies]
    assert all(r is None for r in rest)  # later pages list no deleted key, or find it gone


def test_a_page_hook_that_raises_stops_before_that_page_is_sent(
    real_redis: redis.Redis, handle: RedisHandle
) -> None:
    fill(real_redis, 1000)
    pages: list[int] = []
    unlinked = 0

    def on_page(n: int) -> None:
        pages.append(n)
        if len(pages) == 4:
            raise KeyboardInterrupt

    batches = scan_batches(
        handle.nodes[0],
        KeyCommands(("EXISTS", KEY)),
        match="analysis:*",
        count=100,
        tail=lambda keys: [("UNLINK", *keys)],
        on_page=on_page,
        overlap=False,
    )
    with pytest.raises(KeyboardInterrupt):
        for batch in batches:
            assert batch.replies == [1] * len(batch.keys)
            unlinked += sum(batch.tail)
    assert unlinked == sum(pages[:3]) > 0  # what the batches said ran is exactly what ran
    assert real_redis.dbsize() == 1002 - unlinked
    assert handle.nodes[0].client.ping() is True


def test_vanished_keys_come_back_as_nil(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 300)
    measured: list[tuple[bytes, object]] = []
    for batch in scan_batches(handle.nodes[0], KeyCommands(("MEMORY", "USAGE", KEY)), count=50):
        measured.extend(zip(batch.keys, batch.replies, strict=True))
        real_redis.delete(*[f"analysis:stock:S{i}:v1" for i in range(300)])  # vanish mid-scan
    present = [m for _, m in measured if m is not None]
    assert all(isinstance(m, int) and m > 0 for m in present)
    assert len(present) < 302 and any(m is None for _, m in measured)


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


def test_a_page_with_error_replies_is_freed_as_soon_as_it_is_dropped(
    real_redis: redis.Redis, handle: RedisHandle
) -> None:
    """An error reply kept its traceback, whose frame held the page's replies in a cycle only
    the cyclic GC frees: a scan of GETs over hashes kept pages of values alive (the preview of
    300,000 benchmark keys took 201 MB of RSS, 97 MB without). With the GC off, each page must
    go when the caller drops it."""
    pipe = real_redis.pipeline(transaction=False)
    for i in range(300):
        pipe.hset(f"h:stock:S{i}", "f", "v")
        pipe.set(f"s:stock:S{i}", "x" * 100)
    pipe.execute()
    alive = []
    gc.disable()
    try:
        for batch in scan_batches(handle.nodes[0], KeyCommands(("GET", KEY)), count=50):
            errors = [r for r in batch.replies if isinstance(r, redis.ResponseError)]
            alive.extend(weakref.ref(e) for e in errors)
            del batch, errors
        assert len(alive) == 300 and [ref() for ref in alive if ref() is not None] == []
    finally:
        gc.enable()


def test_fetch_runs_the_per_key_step_for_known_keys(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill(real_redis, 20)
    keys = [b"analysis:stock:S3:v1", b"missing", b"h:stock:AAPL"]
    batch = fetch(handle.nodes[0], keys, KeyCommands(("GET", KEY), ("EXISTS", KEY)), [("DBSIZE",)])
    assert batch.keys == keys and batch.scanned == 3
    assert batch.replies[:4] == [b"xxx", 1, None, 0]
    assert isinstance(batch.replies[4], redis.ResponseError) and batch.replies[5] == 1
    assert batch.tail == [22]
    assert fetch(handle.nodes[0], [], tail=[("UNLINK", "missing", "analysis:stock:S3:v1")]).tail == [1]
    assert fetch(handle.nodes[0], []).replies == []
    assert handle.nodes[0].client.ping() is True


def test_missing_permission_is_raised(real_redis: redis.Redis, redis_url: str) -> None:
    fill(real_redis, 10)
    real_redis.execute_command("ACL", "SETUSER", "nomem", "on", ">pw", "~*", "+@all", "-memory")
    try:
        url = redis_url.replace("redis://", "redis://nomem:pw@")
        with connect(ClientOptions.from_flags(url)) as limited:
            node = limited.nodes[0]
            with pytest.raises(PermissionDenied), limited.translated(node):
                list(scan_batches(node, KeyCommands(("MEMORY", "USAGE", KEY))))
            with pytest.raises(PermissionDenied), limited.translated(node):
                fetch(node, [b"analysis:stock:S1:v1"], KeyCommands(("MEMORY", "USAGE", KEY)))
            unchecked = fetch(
                node, [b"analysis:stock:S1:v1"], KeyCommands(("MEMORY", "USAGE", KEY)), check=False
            )
            assert isinstance(unchecked.replies[0], redis.exceptions.NoPermissionError)
    finally:
        real_redis.execute_command("ACL", "DELUSER", "nomem")


# ---------------------------------------------------------------------------------------------
# One scan per node, concurrently. Two databases of one server stand in for two primaries here;
# tests/cluster/ runs the same on the real cluster.


@pytest.fixture
def two_nodes(real_redis: redis.Redis, redis_url: str) -> Iterator[RedisHandle]:
    db0 = redis.Redis.from_url(redis_url)
    db1 = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    db1.flushdb()
    options = ClientOptions.from_flags(redis_url, 2.0)
    handle = RedisHandle(options, db0, True, [Node("node-a:1", db0), Node("node-b:2", db1)])
    yield handle
    db1.flushdb()
    db0.close()
    db1.close()


def scan_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("llmcache-scan-")]


def wait_for_no_scan_threads() -> None:
    deadline = time.monotonic() + 10  # a bound for "they stop", not a measurement
    while scan_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not scan_threads()


@pytest.mark.parametrize("concurrent", [True, False])
def test_each_node_merges_every_nodes_batches(two_nodes: RedisHandle, concurrent: bool) -> None:
    db0, db1 = (n.client for n in two_nodes.nodes)
    fill(db0, 2500)
    db1.mset({f"other:{i}": "y" for i in range(1700)})
    seen: dict[int, list[bytes]] = {0: [], 1: []}
    scan = each_node(
        two_nodes, lambda _, node: scan_batches(node, KeyCommands(("STRLEN", KEY)), count=100), concurrent
    )
    with scan:
        for i, batch in scan:
            assert threading.current_thread() is threading.main_thread()
            seen[i].extend(batch.keys)
    assert sorted(seen[0]) == sorted(db0.scan_iter(count=1000)) and len(seen[0]) == 2502
    assert sorted(seen[1]) == sorted(db1.scan_iter(count=1000)) and len(seen[1]) == 1700
    assert scan.finished == {0, 1}
    wait_for_no_scan_threads()


def test_each_node_stops_its_workers_when_the_caller_stops(two_nodes: RedisHandle) -> None:
    db0, db1 = (n.client for n in two_nodes.nodes)
    fill(db0, 5000)
    db1.mset({f"other:{i}": "y" for i in range(5000)})
    got = 0
    scan = each_node(two_nodes, lambda _, node: scan_batches(node, KeyCommands(("STRLEN", KEY)), count=50))
    with pytest.raises(KeyboardInterrupt), scan:
        for _, batch in scan:
            got += len(batch.keys)
            raise KeyboardInterrupt  # as Ctrl-C in the progress callback would
    assert 0 < got < 10_000 and scan.finished == set()
    wait_for_no_scan_threads()
    # the connections that were cut off mid-scan are not handed out again with replies pending
    db0, db1 = (n.client for n in two_nodes.nodes)
    assert db0.get("analysis:stock:S3:v1") == b"xxx" and db1.get("other:1") == b"y"


def test_each_node_names_the_node_that_failed(two_nodes: RedisHandle) -> None:
    fill(two_nodes.nodes[0].client, 3000)
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    handle = RedisHandle(
        two_nodes.options, two_nodes.client, True, [two_nodes.nodes[0], Node("127.0.0.1:1", dead)]
    )
    scan = each_node(handle, lambda _, node: scan_batches(node, KeyCommands(("STRLEN", KEY))))
    with pytest.raises(ConnectionFailed) as info, scan:
        for _ in scan:
            pass
    assert "(node 127.0.0.1:1)" in info.value.message and "cannot connect" in info.value.message
    wait_for_no_scan_threads()
    dead.close()
