"""Usage errors in our words; typos get a suggestion; global options after the command."""

from __future__ import annotations

import pytest

from llmcache_cli.cli.messages import hoist_global_options
from tests.cli.conftest import Invoke, json_of

COMMANDS = ["stats", "ttl", "get", "simulate"]


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["stat"], "no such command 'stat': did you mean 'stats'?"),
        (["simulat"], "did you mean 'simulate'?"),
        (["lardge-keys"], "did you mean 'large-keys'?"),
        (["stats", "--format", "yaml"], "'yaml' is not one of 'table', 'json', 'prometheus'"),
        (["--timeout", "abc", "stats"], "--timeout': expected a number, got 'abc'"),
        (["stats", "--sample", "x"], "--sample': expected a whole number, got 'x'"),
        (["ttl", "--limit=1.5"], "--limit': expected a whole number, got '1.5'"),
    ],
)
def test_errors_are_in_our_words(cli: Invoke, args: list[str], wanted: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert wanted in result.stderr, result.stderr
    assert "Input should be" not in result.stderr and "Value error" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_global_options_work_after_the_command(cli: Invoke, redis_url: str) -> None:
    data = json_of(cli("stats", "--timeout", "2", "--json", "--url", redis_url, "--debug"))
    assert data["keyspace"]["keys"] == 0
    bad = cli("stats", "--timeout", "zero", "--url", redis_url)
    assert bad.exit_code == 2 and "--timeout': expected a number, got 'zero'" in bad.stderr


def test_hoisting_moves_only_global_options_after_the_command() -> None:
    assert hoist_global_options(["stats", "--timeout", "2", "--json"], COMMANDS) == [
        "--timeout",
        "2",
        "stats",
        "--json",
    ]
    assert hoist_global_options(["--url", "u", "ttl", "--config=c.toml", "--no-cluster"], COMMANDS) == [
        "--url",
        "u",
        "--config=c.toml",
        "--no-cluster",
        "ttl",
    ]
    assert hoist_global_options(["get", "--", "--debug"], COMMANDS) == ["get", "--", "--debug"]  # a key
    assert hoist_global_options(["nope", "--debug"], COMMANDS) == ["nope", "--debug"]
