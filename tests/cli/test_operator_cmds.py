"""stats, ttl, large-keys and get through the CLI, against the real server (JSON parsed)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
import redis

from llmcache_cli.cli.commands import _render
from tests.cli.conftest import Invoke, json_of
from tests.diagnostics.mixed import build_mixed, independent_sizes
from tests.support.servers import free_port

pytestmark = pytest.mark.redis


@pytest.fixture
def mixed_url(real_redis: redis.Redis, redis_url: str) -> str:
    build_mixed(real_redis)
    return redis_url


def test_stats_json_matches_dbsize_and_info(cli: Invoke, mixed_url: str, real_redis: redis.Redis) -> None:
    data = json_of(cli("--url", mixed_url, "stats", "--json"))
    assert data["keyspace"]["keys"] == real_redis.dbsize()
    assert data["keyspace"]["keys_with_ttl"] == real_redis.info("keyspace")["db0"]["expires"]
    assert data["keyspace"]["hit_rate"] is None
    assert data["llm"]["hits"] == 70 and data["llm"]["misses"] == 34
    assert {w["code"] for w in data["warnings"]} >= {"no_maxmemory", "keys_without_ttl"}
    assert all(w["node"] is None for w in data["warnings"])  # a single server: no per-node warnings
    (node,) = data["nodes"]
    assert node["role"] == "primary" and node["primary"] is None and node["keys"] == real_redis.dbsize()
    assert node["used_memory_bytes"] == data["server"]["used_memory_bytes"]
    full = json_of(cli("stats", "--full", "--json", "--url", mixed_url))
    assert full["breakdown"] == {"exact": True, "scanned": real_redis.dbsize()}
    assert sum(ns["keys"] for ns in full["namespaces"]) == real_redis.dbsize()


def test_stats_table_and_prometheus(cli: Invoke, mixed_url: str) -> None:
    table = cli("--url", mixed_url, "stats")
    assert table.exit_code == 0, table.output
    for text in ("Server", "Keyspace", "LLM cache", "chatbot", "Warnings", "maxmemory is not set"):
        assert text in table.stdout
    assert "Nodes" not in table.stdout  # one server: the tables above are its figures
    prom = cli("--url", mixed_url, "stats", "--format", "prometheus")
    assert prom.exit_code == 0 and prom.stdout.startswith("# HELP llmcache_")
    assert all(line.startswith(("# ", "llmcache_")) for line in prom.stdout.splitlines())


def test_stats_watch_refreshes(cli: Invoke, mixed_url: str, real_redis: redis.Redis) -> None:
    result = cli("--url", mixed_url, "stats", "--watch", "0.01", "--count", "3", "--json")
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(reports) == 3
    # the dashboard's own PTTLs are counted by Redis; --watch takes them off the next refresh
    assert [r["keyspace"]["hits"] for r in reports] == [0, 0, 0]
    assert real_redis.info("stats")["keyspace_hits"] > 0


@pytest.mark.parametrize(
    "args",
    [
        ["stats", "--json", "--format", "prometheus"],
        ["stats", "--count", "2"],
        ["stats", "--watch", "0"],
        ["stats", "--watch", "86401"],
        ["stats", "--url", ""],
        ["stats", "--format", "xml"],
        ["large-keys", "--top", "0"],
        ["large-keys", "--samples", "-1"],
        ["ttl", "--symbol", "AA:PL"],
        ["ttl", "--symbol", "AAPL", "--pattern", "a*"],
        ["ttl", "--policy", "nope"],
        ["ttl", "--sample", "0"],
        ["get", "--max-items", "0", "k"],
    ],
)
def test_usage_errors_exit_2(cli: Invoke, redis_url: str, args: list[str]) -> None:
    result = cli("--url", redis_url, *args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_large_keys_json_matches_memory_usage(cli: Invoke, mixed_url: str, real_redis: redis.Redis) -> None:
    data = json_of(cli("--url", mixed_url, "large-keys", "--top", "5", "--json"))
    reference = independent_sizes(real_redis)
    assert data["scanned"] == len(reference)
    assert [k["bytes"] for k in data["keys"]] == sorted(reference.values(), reverse=True)[:5]
    assert {"key", "bytes", "type", "ttl", "namespace"} <= set(data["keys"][0])
    table = cli("--url", mixed_url, "large-keys", "--pattern", "plain:*")
    assert table.exit_code == 0 and "plain:text:doc" in table.stdout and "Memory by namespace" in table.stdout


def test_ttl_json_no_ttl_is_exact(cli: Invoke, mixed_url: str, real_redis: redis.Redis) -> None:
    data = json_of(cli("--url", mixed_url, "ttl", "--json", "--limit", "3"))
    no_ttl = sum(1 for k in real_redis.scan_iter(count=500) if real_redis.ttl(k) == -1)
    assert data["no_ttl"] + data["bookkeeping"]["no_ttl"] + data["other"]["no_ttl"] == no_ttl
    counters = list(real_redis.scan_iter(match="llmcache:*"))
    memory = sum(real_redis.memory_usage(k) for k in counters)
    assert data["bookkeeping"] == {"keys": 2, "memory_bytes": memory, "no_ttl": 2} and len(counters) == 2
    assert data["scanned"] == real_redis.dbsize()
    assert [b["label"] for b in data["buckets"]][-1] == "no TTL" and len(data["no_ttl_keys"]) == 3
    assert data["over_policy"] >= 2 and data["policy"] == "market-aware"
    one = json_of(
        cli("--url", mixed_url, "ttl", "--key", "technical:stock:AAPL:v1", "--policy", "by-type", "--json")
    )
    assert one["scanned"] == 1 and one["over_policy_keys"][0]["policy_max_ttl_seconds"] == 900
    table = cli("--url", mixed_url, "ttl", "--symbol", "TSLA")
    assert table.exit_code == 0 and "sentiment:stock:TSLA:v1" in table.stdout


def test_get_shows_entries_and_odd_values(cli: Invoke, mixed_url: str) -> None:
    data = json_of(cli("--url", mixed_url, "get", "analysis:stock:AAPL:v1", "--json"))
    assert data["kind"] == "envelope" and data["meta"]["cost_usd"] == 0.02 and data["type"] == "string"
    assert data["memory_bytes"] > 2000 and data["ttl"] > 0
    for key, expected in [
        ("plain:text:doc", "not json at all"),
        ("h:stock:AAPL", "f2"),
        ("z:stock:MSFT", "m2"),
    ]:
        shown = cli("--url", mixed_url, "get", key)
        assert shown.exit_code == 0, shown.output
        assert expected in shown.stdout
    binary = cli("--url", mixed_url, "get", "plain:binary:doc")
    assert binary.exit_code == 0 and "\\xff\\xfe" in binary.stdout
    missing = cli("--url", mixed_url, "get", "analysis:stock:NOPE:v1")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr and missing.stdout == ""


def test_get_of_bookkeeping_has_no_data_type(cli: Invoke, redis_url: str, real_redis: redis.Redis) -> None:
    """An index set is llmcache's bookkeeping, not an entry: no data type, no symbol."""
    real_redis.sadd("llmcache:index:stock:{AAPL}", "analysis:stock:{AAPL}:v1")
    data = json_of(cli("--url", redis_url, "get", "llmcache:index:stock:{AAPL}", "--json"))
    assert data["type"] == "set" and (data["data_type"], data["symbol"]) == (None, None)


def test_keys_that_are_not_utf8_are_found_and_shown(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    """A key typed in a shell as bytes that are not UTF-8 is those bytes (surrogateescape, as
    ``os.fsencode``), and is shown with \\x.. escapes, in JSON and tables alike."""
    real_redis.set(b"raw:\xff\xfe", b'{"result": 1, "meta": {"cost_usd": 0.5}}')
    typed = b"raw:\xff\xfe".decode("utf-8", "surrogateescape")  # what sys.argv holds
    shown = "raw:\\xff\\xfe"
    entry = json_of(cli("--url", redis_url, "get", typed, "--json"))
    assert (entry["key"], entry["value"], entry["cost_usd"]) == (shown, 1, 0.5)
    ttl = json_of(cli("--url", redis_url, "ttl", "--key", typed, "--json"))
    assert ttl["scanned"] == 1 and ttl["selection"] == f"keys {shown}"
    large = json_of(cli("--url", redis_url, "large-keys", "--pattern", typed, "--json"))
    assert [k["key"] for k in large["keys"]] == [shown] and large["pattern"] == shown
    table = cli("--url", redis_url, "large-keys", "--pattern", typed)
    assert table.exit_code == 0 and shown in table.stdout
    gone = json_of(cli("--url", redis_url, "invalidate", "--pattern", typed, "--yes", "--json"))
    assert gone["deleted"] == 1 and gone["targets"][0]["target"] == shown
    assert not real_redis.exists(b"raw:\xff\xfe")


def test_poisoned_numbers_are_never_printed_as_non_json(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    """Numbers JSON cannot carry (1e400 reads as infinity, NaN) come out as null."""
    real_redis.set("analysis:stock:AAPL:v1", b'{"result": [1e400, NaN], "meta": {"cost_usd": 1e400}}')
    result = cli("--url", redis_url, "get", "analysis:stock:AAPL:v1", "--json")
    data = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in the output"))
    assert data["value"] == [None, None] and data["cost_usd"] is None and data["meta"]["cost_usd"] is None
    preview = cli("--url", redis_url, "invalidate", "AAPL", "--dry-run", "--json")
    assert json.loads(preview.stdout, parse_constant=pytest.fail)["regen_cost_usd"] == 0.0


@contextlib.contextmanager
def interrupting(label: str, total: int | None) -> Iterator[_render.Advance]:
    def advance(n: int) -> None:
        raise KeyboardInterrupt

    yield advance


@pytest.mark.parametrize("command", [["large-keys"], ["ttl"], ["stats", "--full"]])
def test_ctrl_c_prints_partial_results_and_exits_130(
    cli: Invoke, real_redis: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    pipe = real_redis.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"analysis:stock:S{i}:v1", "x" * (i % 50), ex=1000)
    pipe.execute()
    monkeypatch.setattr(_render, "scan_progress", interrupting)
    result = cli("--url", redis_url, *command, "--json")
    assert result.exit_code == 130, result.output
    data = json.loads(result.stdout)
    assert data["partial"] is True
    assert "interrupted" in result.stderr


@pytest.mark.parametrize("command", [["large-keys"], ["ttl"], ["get", "k"], ["stats", "--full"]])
def test_dead_server_is_exit_1(cli: Invoke, command: list[str]) -> None:
    result = cli("--url", f"redis://127.0.0.1:{free_port()}/0", "--timeout", "1", *command)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
