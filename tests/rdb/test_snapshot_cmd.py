"""``llmcache snapshot``: a real server's snapshot over the replication protocol, the cluster's
one file per primary, and the refusal of a user without SYNC."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
import redis.cluster

from tests.cli.conftest import Invoke, cli, json_of  # noqa: F401 - the fixture
from tests.diagnostics.mixed import build_mixed
from tests.rdb.tolerance import assert_same_top, model_of


@pytest.mark.redis
@pytest.mark.parametrize("diskless", [False, True])
def test_snapshot_then_large_keys_equal_live(
    cli: Invoke,  # noqa: F811
    real_redis: redis.Redis,
    redis_url: str,
    tmp_path: Path,
    diskless: bool,
) -> None:
    build_mixed(real_redis)
    real_redis.config_set("repl-diskless-sync", "yes" if diskless else "no")
    real_redis.config_set("repl-diskless-sync-delay", 0)
    try:
        target = tmp_path / "dump.rdb"
        fetched = json_of(cli("snapshot", str(target), "--json", "--url", redis_url))
        assert fetched["files"][0]["bytes"] == target.stat().st_size > 0
        assert not list(tmp_path.glob("*.part"))
        model = model_of(real_redis)
        live = json_of(cli("large-keys", "--json", "--url", redis_url))
        mine = json_of(cli("large-keys", "--json", "--rdb", str(target), "--allocator", model.allocator))
        assert mine["files"][0]["checksum"] == "ok"
        assert mine["scanned"] == live["scanned"]
        assert_same_top(
            model, *[[(k["key"], k["bytes"], k["type"]) for k in r["keys"]] for r in (mine, live)]
        )
    finally:
        real_redis.config_set("repl-diskless-sync", "no")


@pytest.mark.redis
def test_a_user_without_sync_is_pointed_to_backups(
    cli: Invoke,  # noqa: F811
    real_redis: redis.Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    real_redis.acl_setuser(
        "nosync", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-sync", "-psync"]
    )
    try:
        url = redis_url.replace("redis://", "redis://nosync:pw@")
        result = cli("snapshot", str(tmp_path / "x.rdb"), "--url", url)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and "backup" in result.stderr
        assert not (tmp_path / "x.rdb").exists() and not list(tmp_path.iterdir())
    finally:
        real_redis.acl_deluser("nosync")


@pytest.mark.cluster
def test_cluster_one_file_per_primary_read_as_one_keyspace(
    cli: Invoke,  # noqa: F811
    cluster_url: str,
    tmp_path: Path,
) -> None:
    client = redis.cluster.RedisCluster.from_url(cluster_url, socket_timeout=5)
    try:
        for i in range(300):
            client.set(f"analysis:stock:S{i}:v1", "x" * (i * 7), ex=3600)
        client.hset("h:stock:AAPL", mapping={"a": "1"})
    finally:
        client.close()
    node = redis.Redis.from_url(cluster_url)
    model = model_of(node)
    node.close()
    folder = tmp_path / "cluster"
    fetched = json_of(cli("snapshot", str(folder), "--json", "--url", cluster_url))
    assert len(fetched["files"]) == 3 and len(list(folder.glob("*.rdb"))) == 3
    live = json_of(cli("large-keys", "--json", "--top", "20", "--url", cluster_url))
    mine = json_of(
        cli("large-keys", "--json", "--top", "20", "--rdb", str(folder), "--allocator", model.allocator)
    )
    assert mine["scanned"] == live["scanned"] == 301 and len(mine["files"]) == 3
    assert_same_top(model, *[[(k["key"], k["bytes"], k["type"]) for k in r["keys"]] for r in (mine, live)])
    gap = abs(mine["total_memory_bytes"] - live["total_memory_bytes"])
    assert gap <= model.total_share * live["total_memory_bytes"]
