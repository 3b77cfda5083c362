"""stats, ttl, large-keys and get on the real Redis Cluster, through the CLI (JSON parsed), each
checked against an independent look at every primary with plain redis clients."""

from __future__ import annotations

import re

import pytest
import redis
import redis.cluster

from llmcache_cli.keys import stats_key
from tests.cli.conftest import Invoke, json_of
from tests.cluster.conftest import holders, primaries, wait_for_replicas
from tests.diagnostics.mixed import envelope
from tests.support.cluster import RedisClusterProcs

pytestmark = pytest.mark.cluster

ENTRIES = 3000
SIZES = (100, 400, 1500)  # few sizes: many keys tie, so the top N must break ties the same way


@pytest.fixture
def populated(cluster: redis.cluster.RedisCluster) -> dict[str, int | None]:
    """ENTRIES envelopes (both key forms, every primary), 1 in 8 without TTL, and odd keys."""
    ttls: dict[str, int | None] = {}
    pipe = cluster.pipeline()
    for i in range(ENTRIES):
        symbol = f"S{i % 150}"
        key = f"analysis:stock:{symbol}:{i}" if i % 2 else f"sentiment:stock:{{{symbol}}}:{i}"
        ttl = None if i % 8 == 0 else 600 + i
        pipe.set(key, envelope(SIZES[i % len(SIZES)]), ex=ttl)
        ttls[key] = ttl
    pipe.hset("h:stock:S7", mapping={"f": "x" * 3000})  # the largest key
    pipe.hset(stats_key("analysis"), mapping={"hits": 30, "misses": 10, "cost_saved_usd": "1.5"})
    pipe.execute()
    ttls["h:stock:S7"] = None
    ttls[stats_key("analysis")] = None
    return ttls


def test_stats_json_sums_the_primaries_and_lists_every_node(
    cli: Invoke, cluster_url: str, redis_cluster_procs: RedisClusterProcs, populated: dict[str, int | None]
) -> None:
    wait_for_replicas(redis_cluster_procs)
    data = json_of(cli("--url", cluster_url, "stats", "--json"))
    with primaries(redis_cluster_procs) as nodes:
        sizes = {name: int(client.dbsize()) for name, client in nodes.items()}
        expires = {
            name: int(client.info("keyspace").get("db0", {}).get("expires", 0))
            for name, client in nodes.items()
        }
    assert data["keyspace"]["keys"] == sum(sizes.values()) == len(populated)
    assert data["keyspace"]["keys_with_ttl"] == sum(expires.values())
    assert data["server"]["mode"] == "cluster" and data["server"]["nodes"] == 3
    listed = {n["name"]: n for n in data["nodes"]}
    primary_rows = [n for n in data["nodes"] if n["role"] == "primary"]
    assert {n["name"]: n["keys"] for n in primary_rows} == sizes
    assert all(n["keys"] > 0 for n in primary_rows)
    replica_rows = [n for n in data["nodes"] if n["role"] == "replica"]
    assert len(replica_rows) == 3 and {n["primary"] for n in replica_rows} == set(sizes)
    assert len(listed) == 6 and all(n["primary"] is None for n in primary_rows)
    for row in data["nodes"]:
        assert {"used_memory_bytes", "hits", "misses", "hit_rate", "evicted_keys", "maxmemory_policy"} <= set(
            row
        )
    assert data["llm"]["hits"] == 30 and data["llm"]["hit_rate"] == 0.75
    # the session cluster has no maxmemory: one warning per primary, naming it
    no_limit = [w for w in data["warnings"] if w["code"] == "no_maxmemory"]
    assert sorted(w["node"] for w in no_limit) == sorted(sizes)
    assert all(w["message"].startswith(f"node {w['node']}: ") for w in no_limit)

    full = json_of(cli("--url", cluster_url, "stats", "--full", "--json"))
    assert full["breakdown"] == {"exact": True, "scanned": sum(sizes.values())}
    assert sum(ns["keys"] for ns in full["namespaces"]) == sum(sizes.values())
    assert full["llm"]["exact"] is True and full["llm"]["hits"] == 30


def test_stats_warnings_name_the_primary_that_differs(
    cli: Invoke, cluster_url: str, redis_cluster_procs: RedisClusterProcs, populated: dict[str, int | None]
) -> None:
    with primaries(redis_cluster_procs) as nodes:
        configured = sorted(nodes)[0]
        try:
            nodes[configured].config_set("maxmemory", "1gb")
            nodes[configured].config_set("maxmemory-policy", "allkeys-lru")
            data = json_of(cli("--url", cluster_url, "stats", "--json"))
        finally:
            nodes[configured].config_set("maxmemory", 0)
            nodes[configured].config_set("maxmemory-policy", "noeviction")
    others = sorted(set(nodes) - {configured})
    for code in ("no_maxmemory", "eviction_policy"):
        assert sorted(w["node"] for w in data["warnings"] if w["code"] == code) == others
    assert data["server"]["maxmemory_policy"] == "mixed"
    leaks = [w for w in data["warnings"] if w["code"] == "keys_without_ttl"]
    assert len(leaks) == 1 and leaks[0]["node"] is None  # counted over the whole keyspace


def test_stats_table_and_prometheus_show_the_nodes(
    cli: Invoke, cluster_url: str, redis_cluster_procs: RedisClusterProcs, populated: dict[str, int | None]
) -> None:
    wait_for_replicas(redis_cluster_procs)
    table = cli("--url", cluster_url, "stats")
    assert table.exit_code == 0, table.output
    assert "Nodes (totals above are the primaries' sums)" in table.stdout
    with primaries(redis_cluster_procs) as nodes:
        sizes = {name: int(client.dbsize()) for name, client in nodes.items()}
    for name, keys in sizes.items():
        assert re.search(rf"{re.escape(name)}\s+primary\s+{keys:,}\s", table.stdout), table.stdout
    assert table.stdout.count("replica of 127.0.0.1:") == 3
    # one finding on every primary is one line naming them (the JSON has one warning per node)
    data = json_of(cli("--url", cluster_url, "stats", "--json"))
    names = [n["name"] for n in data["nodes"] if n["role"] == "primary"]
    text = " ".join(table.stdout.split())
    assert f"! nodes {', '.join(names)}: maxmemory is not set:" in text
    assert text.count("maxmemory is not set") == 1
    prom = cli("--url", cluster_url, "stats", "--format", "prometheus")
    assert prom.exit_code == 0, prom.output
    lines = prom.stdout.splitlines()  # prometheus_client writes every value as a float
    for name, keys in sizes.items():
        assert f'llmcache_node_keys{{node="{name}",role="primary"}} {float(keys)}' in lines
    assert f"llmcache_keys {float(sum(sizes.values()))}" in lines


def independent_sizes(procs: RedisClusterProcs) -> dict[bytes, int]:
    """MEMORY USAGE of every key, asked of the primary that holds it, one key at a time."""
    out: dict[bytes, int] = {}
    with primaries(procs) as nodes:
        for client in nodes.values():
            for key in client.scan_iter(count=1000):
                out[key] = int(client.memory_usage(key))
    return out


def test_large_keys_covers_every_primary_and_merges_the_top(
    cli: Invoke, cluster_url: str, redis_cluster_procs: RedisClusterProcs, populated: dict[str, int | None]
) -> None:
    data = json_of(cli("--url", cluster_url, "large-keys", "--top", "25", "--json"))
    sizes = independent_sizes(redis_cluster_procs)
    assert data["scanned"] == len(sizes) == len(populated) and data["vanished"] == 0
    assert data["total_memory_bytes"] == sum(sizes.values())
    # the top 25 by (bytes, key), largest first; keys of equal size in key order
    top = sorted(sizes.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:25]
    expected = sorted(top, key=lambda kv: (-kv[1], kv[0]))
    assert [(k["key"].encode(), k["bytes"]) for k in data["keys"]] == expected
    assert data["keys"][0]["key"] == "h:stock:S7" and data["keys"][0]["type"] == "hash"
    for row in data["keys"]:
        ttl = populated[row["key"]]
        assert row["ttl"] is None if ttl is None else 0 < row["ttl"] <= ttl
    per_namespace = {ns["namespace"]: ns["keys"] for ns in data["namespaces"]}
    assert per_namespace["analysis"] == per_namespace["sentiment"] == ENTRIES // 2


def test_ttl_covers_every_primary(
    cli: Invoke, cluster_url: str, redis_cluster_procs: RedisClusterProcs, populated: dict[str, int | None]
) -> None:
    data = json_of(cli("--url", cluster_url, "ttl", "--json", "--limit", "5"))
    with primaries(redis_cluster_procs) as nodes:
        no_ttl = sum(
            1 for client in nodes.values() for key in client.scan_iter(count=1000) if client.ttl(key) == -1
        )
        total = sum(int(client.dbsize()) for client in nodes.values())
    assert data["scanned"] == total == len(populated) and data["exact"] is True
    # h:stock:S7 (another namespace) and the counter hash (bookkeeping) are counted apart
    assert data["no_ttl"] == no_ttl - 2 == sum(1 for ttl in populated.values() if ttl is None) - 2
    assert data["other"]["keys"] == data["bookkeeping"]["keys"] == 1
    assert sum(b["keys"] for b in data["buckets"]) == total - 2
    assert len(data["no_ttl_keys"]) == 5
    # a symbol's keys in both forms, spread over the primaries (plain) or in one slot (tagged)
    symbol = json_of(cli("--url", cluster_url, "ttl", "--symbol", "S7", "--json"))
    owned = [k for k in populated if k.split(":")[2] in ("S7", "{S7}") and k.split(":")[1] == "stock"]
    assert symbol["scanned"] == len(owned) == ENTRIES // 150 + 1  # + the hash h:stock:S7
    named = json_of(cli("--url", cluster_url, "ttl", "--key", owned[0], "--key", owned[1], "--json"))
    assert named["scanned"] == 2


def test_get_is_routed_by_slot_and_names_the_node(
    cli: Invoke, cluster_url: str, redis_cluster_procs: RedisClusterProcs, populated: dict[str, int | None]
) -> None:
    with primaries(redis_cluster_procs) as nodes:
        for key in ("analysis:stock:S1:1", "sentiment:stock:{S2}:2", "h:stock:S7"):
            holder = [f"127.0.0.1:{port}" for port in holders(redis_cluster_procs, key)]
            data = json_of(cli("--url", cluster_url, "get", key, "--json"))
            assert [data["node"]] == holder
            assert data["memory_bytes"] == nodes[holder[0]].memory_usage(key)
    assert data["type"] == "hash" and data["value"] == {"f": "x" * 3000}
    entry = json_of(cli("--url", cluster_url, "get", "analysis:stock:S1:1", "--json"))
    assert entry["kind"] == "envelope" and entry["meta"]["cost_usd"] == 0.004
    shown = cli("--url", cluster_url, "get", "analysis:stock:S1:1")
    assert shown.exit_code == 0 and f"{entry['node']} (cluster primary of its slot)" in shown.stdout
    missing = cli("--url", cluster_url, "get", "analysis:stock:NOPE:1")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
