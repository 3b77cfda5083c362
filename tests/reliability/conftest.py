"""Fixtures for the reliability suite (issue 8): throwaway redis-servers that a test may kill,
pause, fill or turn into a replica; the CLI run as a real subprocess; a listener that never
answers; and the checks every failure must pass (exit code, one line, no traceback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.cli.conftest import cli, json_of  # noqa: F401  (the in-process runner, shared)
from tests.support.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
# Every way of deleting: by the per-symbol index, by SCAN, a version purge, a raw pattern.
DELETING_COMMANDS = [
    ["invalidate", "AAPL", "--yes", "--json"],
    ["invalidate", "AAPL", "--scan", "--yes"],
    ["purge-version", "v1", "--yes"],
    ["invalidate", "--pattern", "analysis:*", "--yes"],
]
DELETING_IDS = ["index", "scan", "purge-version", "pattern"]
ENVELOPE = json.dumps({"result": {"signal": "buy"}, "meta": {"cost_usd": 0.01, "model": "m"}})
# One EVAL fills a throwaway server fast (200k keys in well under a second).
FILL_SCRIPT = """
for i = 1, tonumber(ARGV[1]) do
  redis.call('SET', ARGV[2] .. i, ARGV[3], 'EX', tonumber(ARGV[4]))
end
return tonumber(ARGV[1])
"""


def fill(client: redis.Redis, prefix: str, count: int, value: str = ENVELOPE, ttl: int = 3600) -> None:
    """``count`` keys ``{prefix}1`` .. ``{prefix}{count}``, each ``value`` with ``ttl`` seconds."""
    client.eval(FILL_SCRIPT, 0, count, prefix, value, ttl)


def keyspace(client: redis.Redis) -> dict[bytes, Any]:
    """Every key with its type and contents: equal snapshots mean no key and no value changed
    (compared by content, so a replica's copy equals its primary's)."""
    keys = sorted(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    types = pipe.execute()
    read = {
        b"string": lambda p, k: p.get(k),
        b"set": lambda p, k: p.smembers(k),
        b"hash": lambda p, k: p.hgetall(k),
        b"list": lambda p, k: p.lrange(k, 0, -1),
        b"zset": lambda p, k: p.zrange(k, 0, -1, withscores=True),
    }
    for key, kind in zip(keys, types, strict=True):
        read.get(kind, lambda p, k: p.dump(k))(pipe, key)
    values = pipe.execute()
    return {k: (t, v) for k, t, v in zip(keys, types, values, strict=True)}


# ---------------------------------------------------------------------------------------------
# The CLI as a subprocess


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str
    seconds: float


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no URL or config from the developer's shell, no colour."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LLMCACHE_REDIS_URL", "REDIS_URL", "LLMCACHE_CONFIG", "LLMCACHE_DEBUG")
    }
    env.update(NO_COLOR="1", COLUMNS="160", XDG_CONFIG_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def start_cli(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "llmcache_cli", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_cli(proc: subprocess.Popen[str], started: float, timeout: float = 60.0) -> CliRun:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"llmcache hung for {timeout}s: {err[-500:]}")
    return CliRun(proc.returncode, out, err, time.monotonic() - started)


def run_cli(args: Sequence[str], env: dict[str, str], timeout: float = 60.0) -> CliRun:
    started = time.monotonic()
    return finish_cli(start_cli(args, env), started, timeout)


def short(text: str, limit: int = 600) -> str:
    """``text`` cut to a readable length for an assertion message."""
    return (
        text if len(text) <= limit else f"{text[: limit // 2]}...({len(text)} chars)...{text[-limit // 2 :]}"
    )


def error_line(stderr: str) -> str:
    """The one error line of a failed command: exactly one line on stderr that says
    ``llmcache: error: ...``, nothing after it, and no traceback."""
    assert "Traceback" not in stderr, short(stderr, 3000)
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("llmcache: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], short(stderr)
    return errors[0]


def assert_fails_cleanly(run: Any, code: int) -> str:
    """``run`` (a CliRun or a CliRunner result) failed with ``code`` and one clean line."""
    got = run.code if isinstance(run, CliRun) else run.exit_code
    assert got == code, f"exit {got}, wanted {code}: {short(run.stderr)}"
    return error_line(run.stderr)


# ---------------------------------------------------------------------------------------------
# Throwaway servers


class Servers:
    """Starts redis-servers for one test and always cleans up, even paused or killed ones."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[RedisServer] = []

    def start(self, *extra_args: str, port: int = 0, password: str | None = None) -> RedisServer:
        auth = ("--requirepass", password) if password else ()
        server = RedisServer(
            self.root / f"server-{len(self.started)}",
            port=port,
            extra_args=(*extra_args, *auth),
            password=password,
        )
        self.started.append(server)
        return server.start()

    def restart(self, server: RedisServer) -> RedisServer:
        """A new server on the same port and directory (it loads an AOF left there)."""
        again = RedisServer(
            server.workdir, port=server.port, extra_args=server.extra_args, password=server.password
        )
        self.started.append(again)
        return again.start()

    def stop_all(self) -> None:
        for server in self.started:
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)  # a paused server ignores SIGTERM
            server.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    found = Servers(tmp_path / "servers")
    try:
        yield found
    finally:
        found.stop_all()


def wait_for(
    condition: Callable[[], bool], timeout: float = 10.0, what: str | Callable[[], str] = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.005)
    pytest.fail(f"timed out waiting for {what() if callable(what) else what}")


def command_calls(client: redis.Redis, command: str) -> int:
    """How many times ``command`` ran since the last CONFIG RESETSTAT (INFO commandstats)."""
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


# ---------------------------------------------------------------------------------------------
# A server that accepts connections and never answers


class SilentListener:
    """A loopback TCP listener that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def _accept(self) -> None:
        self.listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                continue

    def __enter__(self) -> SilentListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.listener.close()


@pytest.fixture
def silent() -> Iterator[SilentListener]:
    with SilentListener() as listener:
        yield listener
