"""The tool's own lookups never show in the keyspace figures it reports (diagnostics/own_reads.py):
separate runs, every form (totals, per node, JSON, Prometheus, --watch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis

from llmcache_cli.keys import symbol_index_key
from tests.cli.conftest import Invoke, json_of
from tests.diagnostics.mixed import build_mixed

pytestmark = pytest.mark.redis


def _figures(data: dict) -> tuple:
    node = data["nodes"][0]
    ks = data["keyspace"]
    return ks["hits"], ks["misses"], ks["hit_rate"], node["hits"], node["misses"], node["hit_rate"]


def test_stats_twice_on_an_idle_server_gives_the_same_hit_rate(
    redis_url: str, real_redis: redis.Redis
) -> None:
    """Two real processes, as a user would run them."""
    build_mixed(real_redis)
    real_redis.get("analysis:stock:AAPL:v1")
    real_redis.get("no:such:key")
    env = {**os.environ, "LLMCACHE_REDIS_URL": redis_url}
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "llmcache_cli", "stats", "--json"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        runs.append(_figures(json.loads(done.stdout)))
    assert runs[0] == runs[1] == (1, 1, 0.5, 1, 1, 0.5)


def test_no_form_counts_the_tools_reads(cli: Invoke, redis_url: str, real_redis: redis.Redis) -> None:
    build_mixed(real_redis)
    real_redis.get("analysis:stock:AAPL:v1")
    first = _figures(json_of(cli("--url", redis_url, "stats", "--full", "--json")))
    others = (
        ["ttl", "--json"],
        ["ttl", "--in-server", "--json"],
        ["stats", "--full", "--in-server", "--json"],
        ["large-keys", "--json"],
        ["get", "analysis:stock:AAPL:v1"],
        ["get", "no:such"],
    )
    for args in others:
        cli("--url", redis_url, *args)
    assert _figures(json_of(cli("--url", redis_url, "stats", "--json"))) == first == (1, 0, 1.0, 1, 0, 1.0)
    prom = cli("--url", redis_url, "stats", "--format", "prometheus").stdout
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in prom.splitlines() if line[:1] != "#"
    }
    assert (values["llmcache_keyspace_hits_total"], values["llmcache_keyspace_misses_total"]) == (1, 0)
    node_hits = [v for name, v in values.items() if name.startswith("llmcache_node_keyspace_hits_total{")]
    assert node_hits == [1]
    watched = cli("--url", redis_url, "stats", "--watch", "0.01", "--count", "3", "--json")
    frames = [json.loads(line) for line in watched.stdout.splitlines()]
    assert [_figures(frame) for frame in frames] == [first] * 3


def test_an_invalidate_preview_stays_out_of_stats(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    build_mixed(real_redis)
    members = [k for k in real_redis.scan_iter(match="*:stock:S2:*")] + [b"analysis:stock:S2:gone"]
    real_redis.sadd(symbol_index_key("S2"), *members)
    first = _figures(json_of(cli("--url", redis_url, "stats", "--json")))
    assert json_of(cli("--url", redis_url, "invalidate", "S1", "--dry-run", "--json"))["method"] == "scan"
    assert json_of(cli("--url", redis_url, "invalidate", "S2", "--dry-run", "--json"))["method"] == "index"
    assert _figures(json_of(cli("--url", redis_url, "stats", "--json"))) == first
