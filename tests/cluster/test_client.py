"""The shared client module on a real cluster: detection (also under a tight ACL), URLs a
cluster cannot use, slot-to-node mapping, and errors that say what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio
import redis.cluster
import redis.exceptions as rex

from llmcache_cli.client import (
    ClientOptions,
    RedisHandle,
    connect,
    detect_cluster_async,
    translate_error,
)
from llmcache_cli.cluster import replica_addresses
from llmcache_cli.errors import PermissionDenied, ServerError, UsageError
from llmcache_cli.urls import parse_redis_url
from tests.cli.conftest import Invoke, json_of
from tests.cluster.conftest import keys_by_primary
from tests.support.cluster import RedisClusterProcs
from tests.support.servers import RedisServer

pytestmark = pytest.mark.cluster

PASSWORD = "acl-s3cret"
USERS = {
    # INFO and CLUSTER are @dangerous / not @read: only the MOVED probe can tell
    "reader": ["+@read", "+ping", "-@dangerous"],
    # what llmcache needs in a cluster to look (not delete): read commands plus the slot map
    # (-@dangerous first: on Redis 6.2 it takes away the whole CLUSTER command, grants included)
    "clreader": ["+@read", "+ping", "-@dangerous", "+cluster|slots", "+cluster|shards", "+command"],
    "pingonly": ["+ping"],
}


def url_as(url: str, user: str) -> str:
    return url.replace("redis://", f"redis://{user}:{PASSWORD}@")


@pytest.fixture
def acl_users(redis_cluster_procs: RedisClusterProcs, redis_server: RedisServer) -> Iterator[None]:
    """The same ACL users on every cluster node and on the single server; removed afterwards."""
    servers = [*redis_cluster_procs.servers, redis_server]
    for server in servers:
        client = server.admin()
        for user, commands in USERS.items():
            client.acl_setuser(
                user, enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=commands, reset=True
            )
        client.close()
    try:
        yield
    finally:
        for server in servers:
            client = server.admin()
            client.acl_deluser(*USERS)
            client.close()


def test_detection_falls_back_to_a_moved_probe_under_a_tight_acl(
    cluster_url: str, redis_url: str, acl_users: None
) -> None:
    with connect(ClientOptions.from_flags(url_as(cluster_url, "clreader"), 3.0)) as handle:
        assert handle.is_cluster and len(handle.nodes) == 3
    with connect(ClientOptions.from_flags(url_as(redis_url, "reader"), 3.0)) as handle:
        assert not handle.is_cluster  # a single server never answers MOVED
    # a cluster user who may not read the slot map: told which command is missing
    with pytest.raises(PermissionDenied) as denied:
        connect(ClientOptions.from_flags(url_as(cluster_url, "reader"), 3.0))
    assert "cluster|slots" in denied.value.one_line() and PASSWORD not in denied.value.one_line()
    for url in (cluster_url, redis_url):
        with pytest.raises(PermissionDenied, match="cannot tell whether") as unknown:
            connect(ClientOptions.from_flags(url_as(url, "pingonly"), 3.0))
        assert "--cluster or --no-cluster" in unknown.value.one_line()
        assert PASSWORD not in unknown.value.one_line() and ":***@" in unknown.value.one_line()


def test_library_detection_under_a_tight_acl(cluster_url: str, redis_url: str, acl_users: None) -> None:
    async def detect(url: str) -> bool | None:
        client = redis.asyncio.Redis.from_url(url)
        try:
            return await detect_cluster_async(client)
        finally:
            await client.aclose()

    assert asyncio.run(detect(url_as(cluster_url, "reader"))) is True
    assert asyncio.run(detect(url_as(redis_url, "reader"))) is False
    assert asyncio.run(detect(url_as(cluster_url, "pingonly"))) is None


def test_cli_dry_run_as_a_read_only_cluster_user(
    cli: Invoke, cluster_url: str, cluster: redis.cluster.RedisCluster, acl_users: None
) -> None:
    for i in range(30):
        cluster.set(f"analysis:stock:AAPL:{i}", 1)
        cluster.set(f"analysis:stock:{{AAPL}}:{i}", 1)
    data = json_of(cli("--url", url_as(cluster_url, "clreader"), "invalidate", "AAPL", "--dry-run", "--json"))
    assert data["matched"] == 60 and data["deleted"] == 0


@pytest.mark.parametrize("flags", [(), ("--cluster",)], ids=["detected", "forced"])
def test_a_database_other_than_0_is_a_usage_error_on_a_cluster(
    cli: Invoke, cluster_url: str, flags: tuple[str, ...]
) -> None:
    result = cli(*flags, "--url", cluster_url.replace("/0", "/3"), "invalidate", "AAPL", "--dry-run")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "database 3" in line and "only database 0" in line


def test_forcing_cluster_mode_on_a_single_server_is_a_usage_error(cli: Invoke, redis_url: str) -> None:
    result = cli("--cluster", "--url", redis_url, "invalidate", "AAPL", "--dry-run")
    assert result.exit_code == 2
    assert "is not a Redis Cluster node" in result.stderr and "drop --cluster" in result.stderr
    with pytest.raises(UsageError, match="TCP URL"):
        connect(ClientOptions.from_flags("unix:///tmp/no-such.sock", 1.0, cluster=True))


def test_node_index_names_the_primary_that_holds_the_key(
    cluster_url: str, cluster: redis.cluster.RedisCluster, redis_cluster_procs: RedisClusterProcs
) -> None:
    keys = [f"k:{i}" for i in range(60)] + ["analysis:stock:{AAPL}:v1", "llmcache:index:stock:{AAPL}"]
    for key in keys:
        cluster.set(key, 1)
    held = keys_by_primary(redis_cluster_procs)
    with connect(ClientOptions.from_flags(cluster_url, 3.0)) as handle:
        for key in keys:
            port = int(handle.nodes[handle.node_index(key)].name.rsplit(":", 1)[1])
            assert key.encode() in held[port]
        assert handle.node_index("analysis:stock:{AAPL}:v1") == handle.node_index(
            "llmcache:index:stock:{AAPL}"
        )


def test_a_single_server_handle_maps_every_key_to_its_one_node(redis_url: str) -> None:
    with connect(ClientOptions.from_flags(redis_url, 3.0)) as handle:
        assert isinstance(handle, RedisHandle) and not handle.is_cluster
        assert {handle.node_index(k) for k in ("a", "b:{c}", b"\xff")} == {0}


def test_cluster_errors_are_translated_with_a_hint() -> None:
    url = parse_redis_url("redis://:pw@10.0.0.1:7000/0")
    down = translate_error(rex.ClusterDownError("The cluster is down"), url, 1.0, "10.0.0.2:7001")
    assert (
        isinstance(down, ServerError) and "10.0.0.2:7001" in down.one_line() and "replica" in down.one_line()
    )
    lost = translate_error(rex.ConnectionError("Error 111 connecting"), url, 1.0, "10.0.0.2:7001")
    assert "cluster-announce-ip" in lost.one_line() and ":pw@" not in lost.one_line()
    slots = translate_error(rex.SlotNotCoveredError("Slot 42 is not covered"), url, 1.0)
    assert isinstance(slots, ServerError) and "CLUSTER INFO" in slots.one_line()


def test_a_replica_url_finds_the_primaries(
    cli: Invoke, cluster: redis.cluster.RedisCluster, redis_cluster_procs: RedisClusterProcs
) -> None:
    primaries = {s.port for s in redis_cluster_procs.primary_servers()}
    replica = next(s for s in redis_cluster_procs.servers if s.port not in primaries)
    for i in range(20):
        cluster.set(f"analysis:stock:AAPL:{i}", 1)
    with connect(ClientOptions.from_flags(replica.url, 3.0)) as handle:
        assert handle.is_cluster and {int(n.name.rsplit(":", 1)[1]) for n in handle.nodes} == primaries
    data = json_of(cli("--url", replica.url, "invalidate", "AAPL", "--yes", "--json"))
    assert data["deleted"] == 20 and not any(cluster.scan_iter(match="analysis:*"))


def test_replica_addresses_from_cluster_nodes() -> None:
    text = (
        "a1 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
        "b2 10.0.0.2:7001@17001,replica-2.example slave a1 0 1 1 connected\n"
        "c3 10.0.0.3:7002@17002 slave,fail a1 0 1 1 disconnected\n"
        "d4 :0@0 slave,noaddr a1 0 1 1 disconnected\n"
        "e5 10.0.0.5:7004@17004 handshake - 0 0 0 connected\n"
    )
    expected = [("10.0.0.2", 7001), ("10.0.0.3", 7002)]  # a failed replica is still listed
    assert replica_addresses(text) == replica_addresses(text.encode()) == expected
    parsed = {
        "10.0.0.1:7000": {"flags": "myself,master"},
        "10.0.0.2:7001": {"flags": "slave"},
        "10.0.0.9:7009": {"flags": "slave,handshake"},
    }
    assert replica_addresses(parsed) == [("10.0.0.2", 7001)]
