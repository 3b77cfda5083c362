"""``--rdb`` on the command line: JSON equal to the live command's, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from tests.cli.conftest import Invoke, cli, json_of  # noqa: F401 - the fixture
from tests.diagnostics.mixed import build_mixed
from tests.rdb.tolerance import assert_same_top, model_of

pytestmark = pytest.mark.redis


@pytest.fixture
def dump(real_redis: redis.Redis) -> Path:
    build_mixed(real_redis)
    real_redis.save()
    return Path(real_redis.config_get("dir")["dir"]) / "dump.rdb"


def test_large_keys_json_matches_live(
    cli: Invoke,  # noqa: F811
    real_redis: redis.Redis,
    redis_url: str,
    dump: Path,
) -> None:
    model = model_of(real_redis)
    live = json_of(cli("large-keys", "--json", "--url", redis_url))
    mine = json_of(cli("large-keys", "--json", "--rdb", str(dump), "--allocator", model.allocator))
    assert mine["source"] == "rdb" and mine["files"][0]["checksum"] == "ok"
    assert mine["scanned"] == live["scanned"]
    assert_same_top(model, *[[(k["key"], k["bytes"], k["type"]) for k in r["keys"]] for r in (mine, live)])
    assert {n["namespace"]: n["keys"] for n in mine["namespaces"]} == {
        n["namespace"]: n["keys"] for n in live["namespaces"]
    }


def test_ttl_table_from_a_folder(cli: Invoke, dump: Path, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "node-1.rdb").write_bytes(dump.read_bytes())
    result = cli("ttl", "--rdb", str(folder), "--now", "2020-01-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert "From snapshot" in result.stderr and "no TTL" in result.stdout


def test_errors_are_one_line(cli: Invoke, dump: Path, tmp_path: Path) -> None:  # noqa: F811
    cut = tmp_path / "cut.rdb"
    cut.write_bytes(dump.read_bytes()[:-100])
    result = cli("large-keys", "--rdb", str(cut))
    assert result.exit_code == 1
    assert (
        result.stderr.count("\n") == 1 and "truncated" in result.stderr and "Traceback" not in result.output
    )
    for args in (
        ("large-keys", "--db", "1"),
        ("ttl", "--now", "1767225600"),
        ("ttl", "--rdb", str(dump), "--now", "yesterday"),
        ("large-keys", "--rdb", str(tmp_path / "missing.rdb")),
        ("large-keys", "--rdb", str(dump), "--samples", "0"),
        ("large-keys", "--rdb", str(dump), "--allocator", "tcmalloc"),
        ("ttl", "--rdb", str(dump), "--sample", "10"),
        ("ttl", "--rdb", str(dump), "--in-server"),
        ("stats", "--rdb", str(dump), "--in-server"),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.count("\n") == 1, (args, result.stderr)


def test_db_selects_the_database(cli: Invoke, real_redis: redis.Redis) -> None:  # noqa: F811
    other = redis.Redis(host="127.0.0.1", port=real_redis.connection_pool.connection_kwargs["port"], db=3)
    other.set("only:in:three", "x")
    real_redis.save()
    path = Path(real_redis.config_get("dir")["dir"]) / "dump.rdb"
    data = json_of(cli("large-keys", "--json", "--rdb", str(path), "--db", "3"))
    assert [k["key"] for k in data["keys"]] == ["only:in:three"] and data["db"] == 3
    other.close()
    assert json.loads(cli("large-keys", "--json", "--rdb", str(path)).stdout)["scanned"] == 0


def test_stats_rdb_json_and_prometheus(cli: Invoke, dump: Path) -> None:  # noqa: F811
    data = json_of(cli("stats", "--full", "--rdb", str(dump), "--json"))
    assert data["source"] == "rdb" and data["llm"]["hits"] == 70 and data["server"]["mode"] == "snapshot"
    result = cli("stats", "--rdb", str(dump), "--format", "prometheus")
    assert result.exit_code == 0 and "llmcache" in result.stdout
    result = cli("stats", "--rdb", str(dump), "--watch", "1")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
