"""Fixtures for the Redis Cluster tests: a cluster-aware admin client, and the CLI runner.

The cluster itself is the session's (``cluster_url`` in tests/conftest.py: 3 primaries and 3
replicas, every primary flushed before each test). Tests that break nodes start their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
import redis.cluster

from llmcache_cli.cluster import replica_addresses
from tests.cli.conftest import cli  # noqa: F401  (the in-process CLI runner, parses --json)
from tests.support.cluster import RedisClusterProcs


@pytest.fixture
def cluster(cluster_url: str) -> Iterator[redis.cluster.RedisCluster]:
    """An independent client for set-up and checks (redis-py's, not llmcache's)."""
    client = redis.cluster.RedisCluster.from_url(cluster_url, socket_timeout=5)
    yield client
    client.close()


def keyspace(client: redis.cluster.RedisCluster) -> set[bytes]:
    """Every key on every primary."""
    return set(client.scan_iter(count=1000))


def keys_by_primary(procs: RedisClusterProcs) -> dict[int, set[bytes]]:
    """Port of each primary -> the keys it holds (SCAN on that node alone)."""
    out: dict[int, set[bytes]] = {}
    for server in procs.primary_servers():
        client = server.admin()
        try:
            out[server.port] = set(client.scan_iter(count=1000))
        finally:
            client.close()
    return out


def holders(procs: RedisClusterProcs, key: str | bytes) -> list[int]:
    """The ports of the primaries that hold ``key``."""
    wanted = key.encode() if isinstance(key, str) else key
    return [port for port, keys in keys_by_primary(procs).items() if wanted in keys]


def command_calls(procs: RedisClusterProcs, command: str) -> int:
    """How often ``command`` ran on the primaries since their stats were reset."""
    total = 0
    for server in procs.primary_servers():
        client = server.admin()
        try:
            total += int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))
        finally:
            client.close()
    return total


def reset_stats(procs: RedisClusterProcs) -> None:
    for server in procs.primary_servers():
        client = server.admin()
        try:
            client.config_resetstat()
        finally:
            client.close()


@contextmanager
def primaries(procs: RedisClusterProcs) -> Iterator[dict[str, redis.Redis]]:
    """host:port -> a plain client of each primary (no cluster routing)."""
    clients = {f"127.0.0.1:{s.port}": s.admin() for s in procs.primary_servers()}
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def wait_for_replicas(procs: RedisClusterProcs, timeout: float = 30.0) -> None:
    """A cluster just created takes a moment to tell every node which nodes are replicas."""
    deadline = time.monotonic() + timeout  # a bound for the cluster to settle, not a measurement
    while True:
        with primaries(procs) as nodes:
            views = [replica_addresses(c.execute_command("CLUSTER NODES")) for c in nodes.values()]
        if all(len(v) == procs.primaries * procs.replicas_per_primary for v in views):
            return
        assert time.monotonic() < deadline, views
        time.sleep(0.1)
