"""``--pace PCT`` on ``invalidate`` and ``purge-version``: a SCAN walk sleeps so the server CPU
it costs stays at the target share; what it finds and deletes is the same as unpaced; the share
achieved is in the summary and the JSON. The index path scans nothing and reports no pace."""

from __future__ import annotations

import pytest
import redis

from llmcache_cli import invalidation as inv
from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.envelope import encode_envelope
from llmcache_cli.keys import symbol_index_key
from tests.cli.conftest import Invoke, json_of

pytestmark = pytest.mark.redis


def fill(client: redis.Redis, count: int, version: str) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"analysis:stock:S{i}:{version}", encode_envelope({"x": i}, {"cost_usd": 0.01}))
    pipe.execute()


def test_purge_version_paced_deletes_the_same_and_reports_the_share(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    fill(real_redis, 4_000, "v1")
    fill(real_redis, 1_000, "v2")
    preview = json_of(cli("--url", redis_url, "purge-version", "v1", "--dry-run", "--json"))
    assert preview["pace"] is None
    result = cli("--url", redis_url, "purge-version", "v1", "--pace", "2", "--yes", "--json")
    assert result.exit_code == 0, result.output
    paced = json_of(result)
    assert paced["deleted"] == paced["matched"] == preview["matched"] == 4_000
    assert paced["memory_bytes"] == preview["memory_bytes"]
    assert real_redis.dbsize() == 1_000 and not list(real_redis.scan_iter(match="*:v1"))
    pace = paced["pace"]
    assert pace["target_pct"] == 2.0 and pace["server_cpu_pct"] is not None
    assert pace["server_cpu_seconds"] > 0 and pace["wall_seconds"] > 0
    assert pace["slept_seconds"] > 0  # 4,000 MEMORY USAGE + GET + UNLINK cost more than 2% of a core
    # the share is the walks' CPU over their wall time (the JSON rounds both to the millisecond)
    assert pace["server_cpu_pct"] == pytest.approx(
        100 * pace["server_cpu_seconds"] / pace["wall_seconds"], rel=0.1
    )


def test_invalidate_pattern_paced_preview_and_summary_line(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    fill(real_redis, 3_000, "v1")
    plain = json_of(cli("--url", redis_url, "invalidate", "--pattern", "analysis:*", "--dry-run", "--json"))
    result = cli("--url", redis_url, "invalidate", "--pattern", "analysis:*", "--pace", "5", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Paced at 5% of a server core: the scan used" in result.output
    assert "3,000 keys would be deleted" in result.output
    paced = json_of(
        cli("--url", redis_url, "invalidate", "--pattern", "analysis:*", "--pace", "5", "--dry-run", "--json")
    )
    assert (paced["matched"], paced["memory_bytes"]) == (plain["matched"], plain["memory_bytes"])
    assert paced["pace"]["target_pct"] == 5.0 and real_redis.dbsize() == 3_000


def test_index_path_is_not_paced(redis_url: str, real_redis: redis.Redis) -> None:
    real_redis.set("analysis:stock:AAPL:v1", encode_envelope({"x": 1}, {"cost_usd": 0.5}))
    real_redis.sadd(symbol_index_key("AAPL"), "analysis:stock:AAPL:v1")
    with connect(ClientOptions.from_flags(redis_url)) as handle:
        targets = inv.symbol_targets(("AAPL",), frozenset({"stock"}), None)
        plan = inv.plan(handle, targets)
        assert [t.method for t in plan.targets] == ["index"]
        result = inv.run(handle, plan, delete=False, pace=5.0)
        scanned = inv.run(handle, inv.plan(handle, targets, use_index=False), delete=False, pace=5.0)
    assert result.matched == 1 and result.pace is None
    assert scanned.matched == 1 and scanned.pace is not None and scanned.pace.target_pct == 5.0


@pytest.mark.parametrize("value", ["0", "101", "x"])
def test_bad_pace_is_one_line_and_nothing_goes(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, value: str
) -> None:
    fill(real_redis, 10, "v1")
    result = cli("--url", redis_url, "purge-version", "v1", "--pace", value, "--yes")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert real_redis.dbsize() == 10
