"""``llmcache exporter``: a real process on a free port, a real redis-server, scraped with
prometheus_client's parser and compared with ``stats --json``."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
import redis
import redis.cluster

from llmcache_cli.keys import stats_key
from tests.cli.conftest import Invoke, json_of
from tests.cluster.conftest import wait_for_replicas
from tests.diagnostics.mixed import build_mixed
from tests.support.exporter import LLMCACHE, env, running_exporter
from tests.support.servers import RedisServer

pytestmark = pytest.mark.redis


def values(family: object, label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in family.samples}  # type: ignore[attr-defined]


def test_scrape_matches_stats_json(cli: Invoke, redis_url: str, real_redis: redis.Redis) -> None:
    build_mixed(real_redis)
    real_redis.hset(stats_key("analysis"), mapping={"hits": 30, "misses": 10, "cost_saved_usd": "0.75"})
    real_redis.hset(stats_key("sentiment"), mapping={"hits": 5, "misses": 15, "cost_spent_usd": "0.5"})
    with running_exporter(redis_url, "--refresh", "60") as exporter:
        families = exporter.wait_for_view()
        data = json_of(cli("--url", redis_url, "stats", "--json"))
    assert families["llmcache_up"].samples[0].value == 1
    assert families["llmcache_keys"].samples[0].value == data["keyspace"]["keys"]
    assert families["llmcache_keys_with_ttl"].samples[0].value == data["keyspace"]["keys_with_ttl"]
    assert families["llmcache_maxmemory_bytes"].samples[0].value == data["server"]["maxmemory_bytes"]
    for field in ("hits", "misses", "cost_spent_usd", "cost_saved_usd"):
        metric = f"llmcache_llm_{field}"
        assert families[metric].type == "counter"
        expected = {row["namespace"]: row[field] for row in data["llm"]["namespaces"]}
        assert values(families[metric], "namespace") == pytest.approx(expected)
    for field, metric in (("keys", "namespace_keys"), ("memory_bytes", "namespace_memory_bytes")):
        expected = {ns["namespace"]: ns[field] for ns in data["namespaces"]}
        assert values(families[f"llmcache_{metric}"], "namespace") == pytest.approx(expected)
    active = {code for code, v in values(families["llmcache_warning"], "code").items() if v == 1}
    assert active == {w["code"] for w in data["warnings"]}
    for counter in ("keyspace_hits", "evicted_keys", "expired_keys", "node_keyspace_hits"):
        assert families[f"llmcache_{counter}"].type == "counter"


def test_live_counters_per_scrape_and_healthz(redis_url: str, real_redis: redis.Redis) -> None:
    with running_exporter(redis_url, "--refresh", "3600") as exporter:
        exporter.wait_for_view()
        real_redis.hset(stats_key("analysis"), mapping={"hits": 7})
        # a namespace the library counts in is known before any scan: the data types are asked by name
        assert values(exporter.scrape()["llmcache_llm_hits"], "namespace") == {"analysis": 7}
        real_redis.hincrby(stats_key("analysis"), "hits", 3)
        assert values(exporter.scrape()["llmcache_llm_hits"], "namespace") == {"analysis": 10}
        real_redis.set("analysis:stock:AAPL:v1", "{}")
        assert exporter.scrape()["llmcache_keys"].samples[0].value == 2  # INFO per scrape (entry + counters)
        assert exporter.get("/healthz") == (200, "ok\n")
        assert exporter.get("/nope")[0] == 404


def test_redis_down_is_up_0_not_an_http_error(tmp_path: object) -> None:
    server = RedisServer(tmp_path).start()  # type: ignore[arg-type]
    try:
        with running_exporter(server.url, "--refresh", "3600") as exporter:
            assert exporter.wait_for_view()["llmcache_up"].samples[0].value == 1
            server.stop()
            families = exporter.scrape()
            assert families["llmcache_up"].samples[0].value == 0
            assert "llmcache_keys" not in families
            server.start()
            assert exporter.scrape()["llmcache_up"].samples[0].value == 1
    finally:
        server.stop()


def test_redis_down_at_start(silent_port: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with running_exporter(f"redis://127.0.0.1:{closed}/0", "--refresh", "3600") as exporter:
        families = exporter.scrape()
        assert families["llmcache_up"].samples[0].value == 0
        assert exporter.get("/healthz")[0] == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "localhost"], "--listen must be HOST:PORT"),
        (["--listen", "127.0.0.1:70000"], "--listen must be HOST:PORT"),
        (["--listen", "::1:9808"], "in brackets"),
        (["--refresh", "0"], "--refresh must be"),
        (["--refresh", "nan"], "--refresh must be"),
    ],
)
def test_bad_flags(cli: Invoke, redis_url: str, args: list[str], message: str) -> None:
    result = cli("--url", redis_url, "exporter", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_is_one_line(redis_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [*LLMCACHE, "--url", redis_url, "exporter", "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            env=env(),
            timeout=30,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"llmcache: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_prometheus_format_is_the_exporters(cli: Invoke, redis_url: str, real_redis: redis.Redis) -> None:
    build_mixed(real_redis)
    for i in range(50):  # keyspace lookups of a client: both have a keyspace hit rate
        real_redis.get(f"analysis:stock:S{i % 40}:{i}")
    with running_exporter(redis_url) as exporter:
        served = set(exporter.wait_for_view())
    text = cli("--url", redis_url, "stats", "--format", "prometheus").stdout
    from prometheus_client.parser import text_string_to_metric_families

    printed = {f.name for f in text_string_to_metric_families(text)}
    assert printed <= served
    assert served - printed == {
        "llmcache_up",
        "llmcache_breakdown_age_seconds",
        "llmcache_scrape_duration_seconds",
    }


def test_help_has_examples_and_stays_light() -> None:
    code = (
        "import sys; from llmcache_cli.cli.app import run; sys.argv = ['llmcache', 'exporter', '--help'];\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('redis', 'prometheus_client') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "llmcache exporter" in out.split("Examples", 1)[1]
    assert out.strip().splitlines()[-1] == "[]"


def test_keyspace_counters_leave_out_the_exporters_reads(redis_url: str, real_redis: redis.Redis) -> None:
    build_mixed(real_redis)
    existing = [k for k in real_redis.scan_iter("analysis:*", count=1000) if real_redis.type(k) == b"string"]
    with running_exporter(redis_url, "--refresh", "1") as exporter:
        exporter.wait_for_view()

        def counts() -> tuple[float, float]:
            families = exporter.scrape()
            return (
                families["llmcache_keyspace_hits"].samples[0].value,
                families["llmcache_keyspace_misses"].samples[0].value,
            )

        seen = [counts()]
        for _ in range(8):  # background views come and go (each reads every key): no drift
            time.sleep(0.3)
            seen.append(counts())
        assert all(b >= a for a, b in itertools.pairwise(seen)) and seen[-1] == seen[0], seen
        for i in range(100):
            real_redis.get(existing[i % len(existing)])  # 100 hits of a client
            real_redis.get(f"no-such-key-{i}")
        hits, misses = counts()
        assert (hits - seen[-1][0], misses - seen[-1][1]) == (100, 100)
        real_redis.config_resetstat()  # INFO's counters go down: a counter reset, seen as one
        assert counts()[0] < hits


@pytest.mark.cluster
def test_cluster_scrape_has_every_node(cli: Invoke, cluster_url: str, redis_cluster_procs: Any) -> None:
    client = redis.cluster.RedisCluster.from_url(cluster_url)
    try:
        for i in range(300):
            client.set(f"analysis:stock:S{i}:v1", "{}", ex=600)
        client.hset(stats_key("analysis"), mapping={"hits": 4, "misses": 1})
    finally:
        client.close()
    wait_for_replicas(redis_cluster_procs)  # every replica listed by its primary, for both views
    with running_exporter(cluster_url) as exporter:
        families = exporter.wait_for_view()
    data = json_of(cli("--url", cluster_url, "stats", "--json"))
    assert families["llmcache_up"].samples[0].value == 1
    nodes = {(s.labels["node"], s.labels["role"]): s.value for s in families["llmcache_node_keys"].samples}
    assert nodes == {(n["name"], n["role"]): n["keys"] for n in data["nodes"]}
    assert {role for _, role in nodes} == {"primary", "replica"}
    assert families["llmcache_keys"].samples[0].value == data["keyspace"]["keys"] == 301
    assert values(families["llmcache_llm_hits"], "namespace") == {"analysis": 4}
