"""A primary that dies or stops answering during invalidate, or under the library: one clear
line naming the node, exit 1, no hang. Each test starts its own throwaway cluster
(``tests.cluster.breaking``); tests/cluster/test_operator_failure.py does the same for the
operator reports.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmcache_cli import CacheService, cached
from llmcache_cli.cli.commands import invalidate as command
from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.config import Settings
from llmcache_cli.errors import ConnectionFailed
from tests.cache.conftest import run
from tests.cli.conftest import Invoke
from tests.cluster.breaking import (
    LLMCACHE,
    NO_HANG,
    PASSWORD,
    ROOT,
    assert_one_clean_line,
    paused,
    scan_order,
    throwaway_cluster,
)
from tests.support.cluster import RedisClusterProcs
from tests.support.servers import RedisServer

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

KEYS_PER_SYMBOL = 1500


@pytest.fixture
def fragile(tmp_path: Path) -> Iterator[RedisClusterProcs]:
    keys = {}
    for i in range(KEYS_PER_SYMBOL):
        keys[f"analysis:stock:AAPL:{i}"] = "x"  # plain form: spread over every primary
        keys[f"analysis:stock:MSFT:{i}"] = "x"
    with throwaway_cluster(tmp_path / "fragile", keys) as procs:
        yield procs


def kill_during_last_node(
    monkeypatch: pytest.MonkeyPatch, order: list[tuple[RedisServer, int]]
) -> Callable[[], bool]:
    """Make the CLI's progress bar kill the last primary once its scan has begun."""
    victim, victim_keys = order[-1]
    threshold = sum(n for _, n in order) - victim_keys
    seen = [0]

    @contextlib.contextmanager
    def progress(label: str, work: int) -> Iterator[Callable[[int], None]]:
        def advance(step: int) -> None:
            seen[0] += step
            if seen[0] > threshold and victim.process is not None and victim.process.poll() is None:
                victim.process.kill()
                victim.process.wait()

        yield advance

    monkeypatch.setattr(command, "scan_progress", progress)
    return lambda: victim.process is not None and victim.process.poll() is not None


def test_a_primary_killed_during_a_dry_run_scan(
    cli: Invoke, fragile: RedisClusterProcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = scan_order(fragile)
    victim = order[-1][0]
    killed = kill_during_last_node(monkeypatch, order)
    started = time.monotonic()
    result = cli(
        "--url", fragile.url, "--timeout", "2", "invalidate", "AAPL", "--dry-run", "--scan-count", "100"
    )
    assert time.monotonic() - started < NO_HANG
    assert killed(), "the victim was not killed: the scan never reached it"
    assert result.exit_code == 1 and result.stdout == ""
    assert_one_clean_line(result.stderr, f"127.0.0.1:{victim.port}")
    assert "cannot connect" in result.stderr


def test_a_primary_killed_half_way_through_a_deletion(
    cli: Invoke, fragile: RedisClusterProcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = scan_order(fragile)
    victim = order[-1][0]
    survivors = [s for s, _ in order[:-1]]
    on_survivors = 0
    for server in survivors:
        client = server.admin()
        on_survivors += sum(1 for _ in client.scan_iter(match="analysis:stock:AAPL:*", count=1000))
        client.close()
    kill_during_last_node(monkeypatch, order)
    result = cli("--url", fragile.url, "--timeout", "2", "invalidate", "AAPL", "--yes", "--scan-count", "100")
    assert result.exit_code == 1
    assert_one_clean_line(result.stderr, f"127.0.0.1:{victim.port}")
    # it says how much is done: everything on the primaries walked before the victim
    assert f"deleted {on_survivors} of " in result.stderr and "rerun" in result.stderr
    for server in survivors:
        client = server.admin()
        assert not any(client.scan_iter(match="analysis:stock:AAPL:*", count=1000))
        assert sum(1 for _ in client.scan_iter(match="analysis:stock:MSFT:*", count=1000)) > 0
        client.close()


def test_a_silent_primary_costs_about_the_timeout_not_a_hang(fragile: RedisClusterProcs) -> None:
    order = scan_order(fragile)
    victim = order[-1][0]
    node = f"127.0.0.1:{victim.port}"
    with paused(victim):
        started = time.monotonic()
        proc = subprocess.run(
            [*LLMCACHE, "--url", fragile.url, "--timeout", "1", "invalidate", "AAPL", "--dry-run"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k not in ("LLMCACHE_REDIS_URL", "REDIS_URL")},
        )
        assert time.monotonic() - started < NO_HANG
        assert proc.returncode == 1 and proc.stdout == ""
        assert_one_clean_line(proc.stderr, node)
        assert "did not answer within 1s" in proc.stderr

        # Through redis-py's own routing: it refreshes its slot map and retries once, about two
        # timeouts here (~2 s). With redis-py's defaults (10 retries) this took over 10 s.
        with connect(ClientOptions.from_flags(fragile.url, 1.0)) as handle:
            key = next(
                f"analysis:stock:AAPL:{i}"
                for i in range(KEYS_PER_SYMBOL)
                if handle.nodes[handle.node_index(f"analysis:stock:AAPL:{i}")].name == node
            )
            started = time.monotonic()
            with pytest.raises(ConnectionFailed) as info, handle.translated():
                handle.client.get(key)
            assert time.monotonic() - started < 8.0  # generous: four times what it costs
            assert PASSWORD not in info.value.one_line()


def test_the_library_answers_misses_while_a_primary_is_silent(fragile: RedisClusterProcs) -> None:
    victim = scan_order(fragile)[-1][0]
    node = f"127.0.0.1:{victim.port}"
    calls: list[str] = []

    async def go() -> tuple[list[str], float]:
        async with CacheService(fragile.url, settings=Settings(), timeout=0.5, cluster=True) as cache:
            with connect(ClientOptions.from_flags(fragile.url, 2.0)) as handle:
                on_victim = [
                    s
                    for s in ("A", "B", "C", "D", "E", "F", "G", "H")
                    if handle.nodes[handle.node_index("{" + s + "}")].name == node
                ]
            assert on_victim, "no test symbol hashes to the victim"

            @cached(ttl=60, key_prefix="analysis", cache=cache)
            async def analyze(symbol: str) -> str:
                calls.append(symbol)
                return f"fresh {symbol}"

            with paused(victim):
                started = time.monotonic()
                results = [await analyze(s) for s in on_victim[:2]]
                return results, time.monotonic() - started

    results, elapsed = run(go())
    assert results == [f"fresh {s}" for s in calls] and len(calls) == len(results)
    assert elapsed < NO_HANG
