"""Fault injection for the operator commands, against real redis-servers (issue 8).

Each fault must end the same way: the documented exit code (1, operational), exactly one line on
stderr with a hint and no traceback, an answer within the timeout (not a hang), and nothing
deleted that should not be. The long-running cases run the CLI as a real subprocess and kill or
pause (SIGSTOP) the server while the command is half-way through its scan.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.cli.conftest import Invoke
from tests.reliability.conftest import (
    DELETING_COMMANDS,
    DELETING_IDS,
    Servers,
    SilentListener,
    assert_fails_cleanly,
    cli_env,
    command_calls,
    fill,
    finish_cli,
    keyspace,
    run_cli,
    start_cli,
    wait_for,
)
from tests.support.servers import RedisServer, free_port

pytestmark = pytest.mark.redis

TIMEOUT = 1.0
# Generous "no hang" bound: connect + a command + a retry of each, plus interpreter start-up.
NO_HANG = 3 * TIMEOUT + 6

# Every command that talks to Redis, with arguments that would succeed on a healthy server.
REDIS_COMMANDS = [
    ["stats", "--json"],
    ["stats", "--full", "--format", "prometheus"],
    ["ttl", "--json"],
    ["large-keys", "--json"],
    ["get", "analysis:stock:AAPL:1", "--json"],
    ["invalidate", "AAPL", "--yes", "--json"],
    ["invalidate", "AAPL", "--dry-run"],
    ["purge-version", "v1", "--yes", "--json"],
]
IDS = [" ".join(c[:2]) for c in REDIS_COMMANDS]


@pytest.mark.parametrize("command", REDIS_COMMANDS, ids=IDS)
def test_connection_refused_is_exit_1_one_line(cli: Invoke, command: list[str]) -> None:
    """Nothing listens on the port: exit 1, one line naming the URL, the hint to check the server."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    result = cli("--url", url, "--timeout", str(TIMEOUT), *command)
    line = assert_fails_cleanly(result, 1)
    assert time.monotonic() - started < NO_HANG
    assert "cannot connect" in line and url in line and "redis-server running" in line
    assert result.stdout == ""


def test_populate_refused_is_exit_1_one_line(cli: Invoke) -> None:
    """``simulate --populate`` (the only other command that writes to Redis) fails the same way."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = cli("--timeout", str(TIMEOUT), "simulate", "--symbols", "3", "--populate", url, "--json")
    line = assert_fails_cleanly(result, 1)
    assert "cannot connect" in line and url in line


@pytest.mark.parametrize("command", REDIS_COMMANDS, ids=IDS)
def test_server_that_never_answers_times_out(cli: Invoke, silent: SilentListener, command: list[str]) -> None:
    """A listener that accepts and never answers (a hung or firewalled server): the command
    gives up after --timeout, not after the OS's TCP timeout."""
    url = f"redis://127.0.0.1:{silent.port}/0"
    started = time.monotonic()
    result = cli("--url", url, "--timeout", "0.5", *command)
    elapsed = time.monotonic() - started
    line = assert_fails_cleanly(result, 1)
    assert elapsed < 3 * 0.5 + 3, f"took {elapsed:.1f}s"
    assert "did not answer within 0.5s" in line and "--timeout" in line


def test_populate_to_a_server_that_never_answers_times_out(cli: Invoke, silent: SilentListener) -> None:
    """``--timeout 0.5`` must bound ``simulate --populate`` as it bounds every other command."""
    url = f"redis://127.0.0.1:{silent.port}/0"
    started = time.monotonic()
    result = cli("--timeout", "0.5", "simulate", "--symbols", "3", "--populate", url)
    elapsed = time.monotonic() - started
    assert_fails_cleanly(result, 1)
    assert elapsed < 3 * 0.5 + 3, f"took {elapsed:.1f}s"


# ---------------------------------------------------------------------------------------------
# Killed or paused half-way


SYMBOLS = ("AAPL", "AAPLX", "MSFT", "aapl")
PER_SYMBOL = 5_000  # 20k keys: about twenty SCAN round trips, so "half-way" is well defined


def filled_server(servers: Servers, *extra: str) -> tuple[RedisServer, redis.Redis]:
    server = servers.start(*extra)
    admin = server.admin()
    for symbol in SYMBOLS:
        fill(admin, f"analysis:stock:{symbol}:", PER_SYMBOL)
    admin.config_resetstat()
    return server, admin


def start_and_wait_for(
    server: RedisServer, admin: redis.Redis, args: list[str], tmp_path: Path, command: str, calls: int
) -> tuple[subprocess.Popen[str], float]:
    """Start the CLI and return once the server has run ``command`` ``calls`` times, then
    SIGSTOP the server at once, so that the CLI is certainly stuck half-way."""
    env = cli_env(tmp_path)
    started = time.monotonic()
    proc = start_cli(["--url", server.url, "--timeout", str(TIMEOUT), *args], env)

    def reached() -> bool:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the command ended before the fault (exit {proc.returncode}): {err[-400:]}")
        return command_calls(admin, command) >= calls

    wait_for(reached, timeout=30, what=f"{command} to start")
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)
    return proc, started


SCANNING_COMMANDS = [
    ["stats", "--full", "--json"],
    ["ttl", "--json"],
    ["large-keys", "--json"],
    # SCAN MATCH leaves these pages (nearly) empty, so the CLI races through them: smaller
    # pages keep it scanning well past the third SCAN, when the test stops the server.
    ["invalidate", "AAPL", "--dry-run", "--json", "--scan-count", "100"],
    ["purge-version", "v1", "--dry-run", "--json", "--scan-count", "100"],
]


@pytest.mark.parametrize("command", SCANNING_COMMANDS, ids=[c[0] for c in SCANNING_COMMANDS])
def test_server_killed_mid_scan(servers: Servers, tmp_path: Path, command: list[str]) -> None:
    """SIGKILL the server while the command scans: exit 1 and one "cannot connect" line,
    promptly (the kernel resets the connection), never a traceback or partial JSON."""
    server, admin = filled_server(servers)
    proc, _ = start_and_wait_for(server, admin, command, tmp_path, "scan", 3)
    assert server.process is not None
    server.process.kill()
    run = finish_cli(proc, time.monotonic())
    line = assert_fails_cleanly(run, 1)
    assert run.seconds < NO_HANG, f"{run.seconds:.1f}s after the kill"
    assert server.url in line and ("cannot connect" in line or "did not answer" in line)
    assert run.stdout == ""


def test_server_paused_mid_scan_times_out(servers: Servers, tmp_path: Path) -> None:
    """A server that stops answering half-way through a scan (SIGSTOP): the command gives up
    after about --timeout, with one "did not answer" line."""
    server, admin = filled_server(servers)
    proc, _ = start_and_wait_for(server, admin, ["ttl", "--json"], tmp_path, "scan", 3)
    paused = time.monotonic()
    run = finish_cli(proc, paused)
    line = assert_fails_cleanly(run, 1)
    assert run.seconds < NO_HANG, f"{run.seconds:.1f}s after the pause"
    assert f"did not answer within {TIMEOUT:g}s" in line


def others(admin: redis.Redis) -> set[bytes]:
    """The keys invalidate AAPL must not touch (invalidate only deletes: comparing names is enough)."""
    return {k for k in admin.scan_iter(count=5000) if not k.startswith(b"analysis:stock:AAPL:")}


def aapl_count(admin: redis.Redis) -> int:
    return sum(1 for _ in admin.scan_iter(match="analysis:stock:AAPL:*", count=5000))


def deleted_so_far(line: str) -> int:
    return int(line.split("deleted ", 1)[1].split(" ", 1)[0])


def test_server_paused_mid_invalidate_deletes_only_the_symbol_and_a_rerun_finishes(
    servers: Servers, tmp_path: Path
) -> None:
    """SIGSTOP the server after the first UNLINK batches of ``invalidate AAPL``: exit 1 within
    the timeout, one line saying how many were deleted and to rerun; after SIGCONT every key of
    AAPLX, MSFT and aapl is intact, and a rerun deletes the rest of AAPL's keys and nothing else."""
    server, admin = filled_server(servers)
    before = others(admin)
    ours = {c["id"] for c in admin.client_list()}
    proc, _ = start_and_wait_for(
        server, admin, ["invalidate", "AAPL", "--yes", "--json"], tmp_path, "unlink", 2
    )
    paused = time.monotonic()
    run = finish_cli(proc, paused)
    line = assert_fails_cleanly(run, 1)
    assert run.seconds < NO_HANG
    assert "did not answer" in line and "rerun" in line
    reported = deleted_so_far(line)
    assert server.process is not None
    server.process.send_signal(signal.SIGCONT)
    # The commands the CLI had sent before the pause still run; wait until its connection is gone.
    wait_for(
        lambda: {c["id"] for c in admin.client_list()} <= ours,
        what=lambda: f"the CLI to disconnect: {admin.client_list()}",
    )
    left = aapl_count(admin)
    # The report is a lower bound: a batch already sent when the server froze still runs.
    assert 0 < reported <= PER_SYMBOL - left < PER_SYMBOL
    assert others(admin) == before

    rerun = run_cli(["--url", server.url, "invalidate", "AAPL", "--yes", "--json"], cli_env(tmp_path))
    assert rerun.code == 0, rerun.stderr
    assert json.loads(rerun.stdout)["deleted"] == left
    assert aapl_count(admin) == 0 and others(admin) == before


def test_server_killed_mid_invalidate_keeps_every_other_key(servers: Servers, tmp_path: Path) -> None:
    """SIGKILL the server (with an fsync-always AOF) in the middle of ``invalidate AAPL``: exit
    1, one line with the count and the rerun hint; restarted from its AOF, the server still has
    every key of the other symbols, and a rerun finishes the job."""
    server, admin = filled_server(servers, "--appendonly", "yes", "--appendfsync", "always")
    before = others(admin)
    proc, _ = start_and_wait_for(
        server, admin, ["invalidate", "AAPL", "--yes", "--json"], tmp_path, "unlink", 2
    )
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    run = finish_cli(proc, time.monotonic())
    line = assert_fails_cleanly(run, 1)
    assert run.seconds < NO_HANG, f"{run.seconds:.1f}s after the kill"
    assert "cannot connect" in line and "rerun" in line
    reported = deleted_so_far(line)

    restarted = servers.restart(server)  # same port and directory: it loads the AOF
    admin = restarted.admin()
    assert others(admin) == before
    left = aapl_count(admin)
    assert 0 < reported <= PER_SYMBOL - left  # what was reported deleted is gone for good
    rerun = run_cli(["--url", restarted.url, "invalidate", "AAPL", "--yes", "--json"], cli_env(tmp_path))
    assert rerun.code == 0 and json.loads(rerun.stdout)["deleted"] == left
    assert others(admin) == before


# ---------------------------------------------------------------------------------------------
# A replica, and a full server


@pytest.fixture
def replica(servers: Servers) -> tuple[RedisServer, RedisServer]:
    primary = servers.start("--repl-diskless-sync-delay", "0")
    admin = primary.admin()
    for symbol in SYMBOLS:
        fill(admin, f"analysis:stock:{symbol}:", 50)
    for i in range(10):
        admin.set(f"sentiment:news:{i}:v1", "{}")
    admin.sadd("llmcache:index:stock:{AAPL}", *[f"analysis:stock:AAPL:{i}" for i in range(1, 51)])
    copy = servers.start("--replicaof", "127.0.0.1", str(primary.port))
    reader = copy.admin()
    wait_for(
        lambda: (
            reader.info("replication").get("master_link_status") == "up" and reader.dbsize() == admin.dbsize()
        ),
        what="the replica to sync",
    )
    return primary, copy


@pytest.mark.parametrize("command", DELETING_COMMANDS, ids=DELETING_IDS)
def test_invalidate_on_a_read_only_replica(
    cli: Invoke, replica: tuple[RedisServer, RedisServer], command: list[str]
) -> None:
    """Pointed at a replica, a deleting command exits 1 with one line that says read-only and
    to use the primary; the replica's keyspace (and the primary's) are unchanged."""
    primary, copy = replica
    before = keyspace(primary.admin())
    result = cli("--url", copy.url, "--timeout", str(TIMEOUT), *command)
    line = assert_fails_cleanly(result, 1)
    assert "read-only" in line and "primary" in line and "deleted 0 " in line
    assert keyspace(copy.admin()) == before and keyspace(primary.admin()) == before


def test_read_commands_work_on_a_replica(cli: Invoke, replica: tuple[RedisServer, RedisServer]) -> None:
    """The read-only commands do not write: they work on a replica."""
    _, copy = replica
    for command in (["stats", "--json"], ["ttl", "--json"], ["large-keys", "--json"]):
        result = cli("--url", copy.url, *command)
        assert result.exit_code == 0, result.output
    result = cli("--url", copy.url, "get", "analysis:stock:AAPL:1", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["key"] == "analysis:stock:AAPL:1"


def test_a_full_server_can_still_be_inspected_and_emptied(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    """maxmemory reached with noeviction: writes fail, but an operator can still look (stats
    warns) and free memory with invalidate (UNLINK is allowed when full), exactly."""
    for symbol in SYMBOLS:
        fill(real_redis, f"analysis:stock:{symbol}:", 200)
    real_redis.config_set("maxmemory", 1)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            real_redis.set("x", 1)
        stats = cli("--url", redis_url, "stats", "--json")
        assert stats.exit_code == 0, stats.output
        assert "eviction_policy" in {w["code"] for w in json.loads(stats.stdout)["warnings"]}
        before = {k: v for k, v in keyspace(real_redis).items() if b":AAPL:" not in k}
        result = cli("--url", redis_url, "invalidate", "AAPL", "--yes", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["deleted"] == 200
        assert keyspace(real_redis) == before
    finally:
        real_redis.config_set("maxmemory", 0)
