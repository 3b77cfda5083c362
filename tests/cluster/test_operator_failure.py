"""A primary that dies or stops answering while large-keys, ttl or stats --full scans the
cluster: one clear line naming the node (URL redacted), exit 1, no hang beyond the timeout.

Each test starts its own throwaway cluster (``tests.cluster.breaking``), never touching the
session's. The primaries are scanned concurrently, each a few batches ahead of what the command
has counted at most, so with many SCAN pages per primary the victim is always mid-scan when the
first batch is counted; that is when the progress callback breaks it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmcache_cli.cli.commands import _render
from tests.cli.conftest import Invoke
from tests.cluster.breaking import NO_HANG, PASSWORD, assert_one_clean_line, scan_order, throwaway_cluster
from tests.cluster.conftest import wait_for_replicas
from tests.support.cluster import RedisClusterProcs
from tests.support.servers import RedisServer

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

KEYS = 45_000  # about 15 SCAN pages of 1000 on each of the 3 primaries


@pytest.fixture(scope="module")
def breakable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcs]:
    keys = {f"analysis:stock:S{i % 500}:{i}": "x" * (i % 40) for i in range(KEYS)}
    with throwaway_cluster(tmp_path_factory.mktemp("breakable"), keys) as procs:
        yield procs


@pytest.fixture
def cluster_to_break(breakable: RedisClusterProcs, tmp_path: Path) -> Iterator[RedisClusterProcs]:
    """The module's throwaway cluster, or a fresh one when an earlier test left a node broken."""
    if all(s.process is not None and s.process.poll() is None for s in breakable.servers):
        yield breakable
        return
    keys = {f"analysis:stock:S{i % 500}:{i}": "x" * (i % 40) for i in range(KEYS)}
    with throwaway_cluster(tmp_path / "fresh", keys) as procs:
        yield procs


def break_on_first_batch(
    monkeypatch: pytest.MonkeyPatch, victim: RedisServer, how: Callable[[RedisServer], None]
) -> list[int]:
    """Make the commands' progress bar break ``victim`` when the first batch is counted."""
    counted: list[int] = []

    @contextlib.contextmanager
    def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        def advance(step: int) -> None:
            if not counted:
                how(victim)
            counted.append(step)

        yield advance

    monkeypatch.setattr(_render, "scan_progress", progress)
    return counted


def kill(server: RedisServer) -> None:
    assert server.process is not None
    server.process.kill()
    server.process.wait()


def test_a_primary_that_stops_answering_during_the_scan_costs_the_timeout(
    cli: Invoke, cluster_to_break: RedisClusterProcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = scan_order(cluster_to_break)[-1][0]
    assert victim.process is not None
    pid = victim.process.pid
    break_on_first_batch(monkeypatch, victim, lambda server: os.kill(pid, signal.SIGSTOP))
    try:
        started = time.monotonic()
        result = cli("--url", cluster_to_break.url, "--timeout", "1", "large-keys", "--json")
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert elapsed < NO_HANG
    assert result.exit_code == 1 and result.stdout == ""
    assert_one_clean_line(result.stderr, f"127.0.0.1:{victim.port}")
    assert "did not answer within 1s" in result.stderr
    # the node answers again: the same command now succeeds on the same cluster
    again = cli("--url", cluster_to_break.url, "--timeout", "5", "large-keys", "--json")
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("command", [["large-keys"], ["ttl"], ["stats", "--full"]])
def test_a_primary_killed_during_the_scan(
    cli: Invoke,
    cluster_to_break: RedisClusterProcs,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    order = scan_order(cluster_to_break)
    assert all(keys > 10_000 for _, keys in order)  # many pages on every primary
    victim = order[-1][0]
    counted = break_on_first_batch(monkeypatch, victim, kill)
    started = time.monotonic()
    result = cli("--url", cluster_to_break.url, "--timeout", "2", *command, "--json")
    assert time.monotonic() - started < NO_HANG
    assert counted and victim.process is not None and victim.process.poll() is not None
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # no report made of what the other primaries gave
    assert_one_clean_line(result.stderr, f"127.0.0.1:{victim.port}")
    assert "cannot connect" in result.stderr
    assert sum(counted) < sum(keys for _, keys in order)  # it stopped: not a full report


def test_a_dead_replica_is_a_warning_not_an_error(cli: Invoke, tmp_path: Path) -> None:
    keys = {f"analysis:stock:S{i % 50}:{i}": "x" for i in range(3000)}
    with throwaway_cluster(tmp_path / "replicated", keys, replicas=1) as procs:
        wait_for_replicas(procs)
        primaries = {f"127.0.0.1:{s.port}" for s in procs.primary_servers()}
        replica = next(s for s in procs.servers if f"127.0.0.1:{s.port}" not in primaries)
        kill(replica)
        result = cli("--url", procs.url, "--timeout", "2", "stats", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
    dead = f"127.0.0.1:{replica.port}"
    assert data["keyspace"]["keys"] == 3000
    assert {n["name"] for n in data["nodes"] if n["role"] == "primary"} == primaries
    assert len([n for n in data["nodes"] if n["role"] == "replica"]) == 2
    assert dead not in {n["name"] for n in data["nodes"]}
    (warning,) = [w for w in data["warnings"] if w["code"] == "node_unreachable"]
    assert warning["node"] == dead and f"replica {dead} did not answer" in warning["message"]
    assert PASSWORD not in result.stdout
