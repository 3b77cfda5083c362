"""The CLI skeleton: help, version, global options, and the one exit path."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke
from tests.support.servers import free_port

COMMANDS = ["stats", "ttl", "large-keys", "get", "invalidate", "purge-version", "policy", "simulate"]


def test_help_lists_every_command(cli: Invoke) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.stdout, name
    assert "Examples" in result.stdout


def test_every_command_has_help_with_an_example(cli: Invoke) -> None:
    for name in COMMANDS:
        result = cli(name, "--help")
        assert result.exit_code == 0, name
        assert "Example" in result.stdout, f"'llmcache {name} --help' shows no example"
        assert f"llmcache {name}" in result.stdout.split("Example", 1)[1], name


def test_help_loads_no_command_module() -> None:
    """`llmcache --help` must not import redis-py, numpy, the holiday calendar or prometheus_client."""
    code = (
        "import sys; from llmcache_cli.cli.app import run; sys.argv = ['llmcache', '--help'];\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "heavy = ('redis', 'numpy', 'holidays', 'prometheus_client')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_version(cli: Invoke) -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("llmcache ")


def test_no_command_shows_help(cli: Invoke) -> None:
    """The whole help, as --help prints it, and exit 2 (a command is missing)."""
    result = cli()
    assert result.exit_code == 2
    assert result.stdout == cli("--help").stdout and "Commands" in result.stdout
    assert "error" not in result.stderr


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
