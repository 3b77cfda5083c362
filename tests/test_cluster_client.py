"""The shared client module against a real local Redis Cluster."""

from __future__ import annotations

import pytest
import redis.cluster

from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.scan import scan_keys, total_keys
from tests.support.cluster import RedisClusterProcs

pytestmark = pytest.mark.cluster


def test_cluster_is_detected_and_every_primary_is_a_node(
    cluster_url: str, redis_cluster_procs: RedisClusterProcs
) -> None:
    with connect(ClientOptions.from_flags(cluster_url, 3.0)) as handle:
        assert handle.is_cluster
        assert isinstance(handle.client, redis.cluster.RedisCluster)
        assert sorted(n.name for n in handle.nodes) == sorted(
            f"127.0.0.1:{s.port}" for s in redis_cluster_procs.primary_servers()
        )


def test_scan_covers_every_primary(cluster_url: str) -> None:
    with connect(ClientOptions.from_flags(cluster_url, 3.0)) as handle:
        for i in range(600):
            handle.client.set(f"analysis:stock:S{i}:v1", "x")
        seen = {k for node in handle.nodes for batch in scan_keys(node, count=50) for k in batch}
        assert len(seen) == 600 == total_keys(handle)
        per_node = [sum(len(b) for b in scan_keys(node)) for node in handle.nodes]
        assert all(n > 0 for n in per_node)


def test_no_cluster_flag_forces_single_node(cluster_url: str) -> None:
    with connect(ClientOptions.from_flags(cluster_url, 3.0, cluster=False)) as handle:
        assert not handle.is_cluster and len(handle.nodes) == 1
