"""Fixtures for the Redis Cluster tests: a cluster-aware admin client, and the CLI runner.

The cluster itself is the session's (``cluster_url`` in tests/conftest.py: 3 primaries and 3
replicas, every primary flushed before each test). Tests that break nodes start their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis.cluster

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
