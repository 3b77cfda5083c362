from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.rdb.servers import candidates
from tests.support.servers import RedisServer

SERVERS = candidates()


@dataclass
class Written:
    """A server that wrote a mixed keyspace, and its snapshot."""

    version: str
    client: redis.Redis
    path: Path
    allocator: str  # INFO's mem_allocator, as the estimate's allocator


def mixed_keyspace(client: redis.Redis, db1: redis.Redis) -> None:
    """Every type and encoding, strings of every size class, TTLs, two databases."""
    pipe = client.pipeline(transaction=False)
    for i in range(600):
        size = (i * 37) % 5000
        pipe.set(f"analysis:stock:S{i % 40}:{i}", "x" * size, ex=3600 + i)
    for i, value in enumerate((0, 7, -12, 12345, 2**40, "0123", "-0", "1e5", " 1")):
        pipe.set(f"num:{i}", value)
    pipe.set("embstr:44", "y" * 44)
    pipe.set("raw:45", "y" * 45)
    pipe.set("big:string", "z" * 100_000)
    pipe.set("compressible:" + "k" * 40, "q" * 500)  # LZF in the file
    pipe.hset("hash:small", mapping={"a": "1", "b": "x" * 30})
    ints = (0, 7, 12, 13, -1, 127, 128, -4096, 4095, 5000, -70000, 2**23, 2**31, -(2**40), 2**62)
    pipe.hset("hash:ints", mapping={f"i{n}": n for n in ints})
    pipe.hset("hash:big", mapping={f"field{i}": "v" * 60 for i in range(400)})
    pipe.rpush("list:small", "a", "b", "c")
    pipe.rpush("list:big", *[f"element-{i}" * 4 for i in range(6000)])
    pipe.sadd("set:ints", *range(200))
    pipe.sadd("set:small", *[f"m{i}" for i in range(20)])
    pipe.sadd("set:big", *[f"member-{i}" for i in range(2000)])
    pipe.zadd("zset:small", {"a": 1, "b": 2.5})
    pipe.zadd("zset:big", {f"zm{i}": i / 3 for i in range(700)})
    for i in range(60):
        pipe.xadd("stream:events", {"field": "v" * (i % 20)})
    pipe.execute()
    client.expire("hash:big", 7200)
    client.xgroup_create("stream:events", "workers", id="0")
    client.xreadgroup("workers", "alice", {"stream:events": ">"}, count=5)
    for i in range(30):
        db1.set(f"db1:key:{i}", "w" * i)
    with contextlib.suppress(redis.ResponseError):  # Redis 6.2 has no functions
        client.execute_command("FUNCTION", "LOAD", LIBRARY)


LIBRARY = "#!lua name=llmcachetest\nredis.register_function('noop', function() return 1 end)"


def _write(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fill: Callable[[redis.Redis, redis.Redis], None],
) -> Iterator[Written]:
    """Start the server of ``request.param``, ``fill`` databases 0 and 1, SAVE."""
    version = request.param
    binary = SERVERS[version]
    if binary is None:
        pytest.skip(f"no {version} binary here")
    import tests.support.servers as support

    workdir = tmp_path_factory.mktemp(version)
    saved = support.REDIS_SERVER
    support.REDIS_SERVER = str(binary)
    try:
        server = RedisServer(workdir).start()
    finally:
        support.REDIS_SERVER = saved
    client = server.admin()
    db1 = server.admin(db=1)
    try:
        fill(client, db1)
        client.save()
        allocator = str(client.info("memory").get("mem_allocator", "jemalloc")).split("-")[0]
        yield Written(
            version, client, workdir / "dump.rdb", "jemalloc" if allocator == "jemalloc" else "libc"
        )
    finally:
        client.close()
        db1.close()
        server.stop()


@pytest.fixture(scope="module", params=sorted(SERVERS))
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    yield from _write(request, tmp_path_factory, mixed_keyspace)


STREAMS = {  # key: (entries, field bytes)
    "stream:1": (1, 5),
    "stream:100": (100, 5),
    "stream:101": (101, 5),
    "stream:wide:50": (50, 100),
    "stream:wide:1000": (1000, 100),
    "stream:10000": (10_000, 5),
}


def stream_keyspace(client: redis.Redis, _db1: redis.Redis) -> None:
    """Streams of one to many listpack nodes, trimmed and emptied ones, consumer groups."""
    for key, (entries, width) in STREAMS.items():
        pipe = client.pipeline(transaction=False)
        for i in range(entries):
            pipe.xadd(key, {"field": "v" * width, "n": i})
        pipe.execute()
    client.xgroup_create("stream:wide:1000", "workers", id="0")
    client.xreadgroup("workers", "alice", {"stream:wide:1000": ">"}, count=300)
    client.xreadgroup("workers", "bob", {"stream:wide:1000": ">"}, count=120)
    client.xgroup_create("stream:10000", "idle", id="$")
    client.xtrim("stream:10000", maxlen=4000, approximate=False)
    ids = [entry_id for entry_id, _ in client.xrange("stream:101", count=40)]
    client.xdel("stream:101", *ids)
    client.xgroup_create("stream:empty", "g", id="$", mkstream=True)
    client.xadd("stream:emptied", {"f": "v"})
    client.xtrim("stream:emptied", maxlen=0)


@pytest.fixture(scope="module", params=sorted(SERVERS))
def streams_written(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Written]:
    yield from _write(request, tmp_path_factory, stream_keyspace)
