"""The CLI skeleton: help, version, global options, and the one exit path."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmcache_cli.cli.app import app
from llmcache_cli.cli.commands import pending
from llmcache_cli.cli.commands.pending import PENDING
from tests.cli.conftest import Invoke
from tests.support.servers import free_port

SPEC_COMMANDS = ["stats", "ttl", "large-keys", "get", "invalidate", "purge-version", "policy", "simulate"]


def test_help_lists_every_command(cli: Invoke) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in SPEC_COMMANDS:
        assert f"  {name} " in result.stdout, name
    assert "Examples" in result.stdout


def test_every_command_has_help(cli: Invoke) -> None:
    from typer.main import get_command

    group = get_command(app)
    for name in SPEC_COMMANDS:
        command = group.commands[name]  # type: ignore[attr-defined]
        assert command.help and len(command.help) > 20, name
        assert cli(name, "--help").exit_code == 0


def test_version(cli: Invoke) -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("llmcache ")


def test_no_command_shows_help(cli: Invoke) -> None:
    result = cli()
    assert "Usage" in result.output


def test_dead_server_is_one_redacted_line_exit_1(cli: Invoke) -> None:
    port = free_port()
    result = cli("--url", f"redis://:s3cret@127.0.0.1:{port}/0", "--timeout", "1", "stats")
    assert result.exit_code == 1
    assert "s3cret" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "running" in lines[0]


def test_url_from_env_is_redacted_too(cli: Invoke) -> None:
    port = free_port()
    result = cli("stats", env={"REDIS_URL": f"redis://u:envpw@127.0.0.1:{port}/0"})
    assert result.exit_code == 1 and "envpw" not in result.output and "REDIS_URL" not in result.stdout


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://h:xx/0", "nonsense", "redis://h/zz"])
def test_bad_url_is_usage_error(cli: Invoke, url: str) -> None:
    result = cli("--url", url, "stats")
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["nosuch"],
        ["--timeout", "abc", "stats"],
        ["--timeout", "-1", "stats"],
        ["--config", "/nonexistent/x.toml", "stats"],
    ],
)
def test_usage_errors_are_one_line_exit_2(cli: Invoke, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("llmcache: error:")


def test_corrupt_config_is_usage_error(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[ttl\n")
    result = cli("--config", str(path), "stats")
    assert result.exit_code == 2 and "not valid TOML" in result.stderr


def test_pending_stub_says_not_built_and_exits_2() -> None:
    """A command whose module has not landed is a stub: one line, exit 2."""
    import typer
    from typer.testing import CliRunner

    from llmcache_cli.cli.main import LLMCacheGroup

    bare = typer.Typer(cls=LLMCacheGroup)
    bare.callback()(lambda: None)
    pending.register(bare, skip=frozenset(n for n, v in PENDING.items() if n != "simulate"))
    result = CliRunner().invoke(bare, ["simulate", "--days", "3"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "llmcache: error: 'llmcache simulate' is not built yet (tracked in issue #6)"
    )


def test_console_script_end_to_end_within_timeout() -> None:
    """The real process: exit 1 within the timeout, one stderr line, no secret, no traceback."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LLMCACHE_REDIS_URL")}
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmcache_cli",
            "--url",
            f"redis://:s3cret@127.0.0.1:{port}/0",
            "--timeout",
            "2",
            "stats",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert time.monotonic() - started < 10
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "s3cret" not in proc.stderr and "Traceback" not in proc.stderr
    assert f"redis://:***@127.0.0.1:{port}/0" in proc.stderr
