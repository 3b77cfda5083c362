"""cli/lazy_params.py: options converted without Typer's pydantic converter come out exactly as
that converter would make them, and the everyday commands never import pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from llmcache_cli.cli import lazy_params
from tests.cli.conftest import Invoke

KEY = "analysis:stock:AAPL:v1"
# Every command, with options left at their defaults and with values given.
COMMAND_LINES = [
    ["stats", "--json"],
    ["stats", "--full", "--json"],
    ["stats", "--sample", "50", "--format", "prometheus"],
    ["ttl", "--json"],
    ["ttl", "--sample", "10", "--limit", "3", "--pattern", "a*", "--json"],
    ["large-keys", "--json"],
    ["large-keys", "--top", "3", "--samples", "2", "--json"],
    ["get", KEY, "--json"],
    ["invalidate", "AAPL", "MSFT", "--dry-run", "--json"],
    ["invalidate", "AAPL", "--type", "analysis", "--dry-run", "--json"],
    ["purge-version", "v0", "--dry-run", "--json"],
    ["policy", "--json"],
    ["simulate", "--json"],
    ["simulate", "--symbols", "3", "--days", "1", "--interval", "30m", "--json"],
]

# What an operator types every day, options at their defaults: no pydantic to import.
EVERYDAY = [["stats", "--json"], ["stats", "--full", "--json"], ["ttl", "--json"], ["large-keys", "--json"]]
EVERYDAY += [["get", KEY, "--json"], ["invalidate", "AAPL", "MSFT", "--dry-run", "--json"]]


@pytest.mark.redis
@pytest.mark.parametrize("args", COMMAND_LINES, ids=[" ".join(a) for a in COMMAND_LINES])
def test_values_passed_as_they_are_equal_the_converters(
    cli: Invoke, redis_url: str, real_redis: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    real_redis.set(KEY, b'{"result": 1, "meta": {}}')
    checked: list[str] = []
    original = lazy_params._as_is

    def both(value: Any, param: Any, descriptor: Any) -> Any:
        mine = original(value, param, descriptor)
        if mine is not lazy_params._CONVERT:
            real = lazy_params._real_build(descriptor).coerce(value, param=param, ctx=None)
            assert (type(mine), mine) == (type(real), real), param.name
            checked.append(param.name)
        return mine

    monkeypatch.setattr(lazy_params, "_as_is", both)
    result = cli("--url", redis_url, *args)
    assert result.exit_code == 0, result.output
    assert checked, "no option was passed through"


# What an operator types every day, options at their defaults: no pydantic to import.
EVERYDAY = [["stats", "--json"], ["stats", "--full", "--json"], ["ttl", "--json"], ["large-keys", "--json"]]
EVERYDAY += [["get", KEY, "--json"], ["invalidate", "AAPL", "MSFT", "--dry-run", "--json"]]

CHECK = """
import contextlib, io, json, sys
sys.argv = ["llmcache", *sys.argv[1:]]
from llmcache_cli.cli.app import run
with contextlib.redirect_stdout(io.StringIO()):
    try:
        run()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "pydantic": "pydantic" in sys.modules}))
"""


@pytest.mark.redis
@pytest.mark.parametrize("args", EVERYDAY, ids=[" ".join(a) for a in EVERYDAY])
def test_everyday_commands_do_not_import_pydantic(redis_url: str, real_redis: Any, args: list[str]) -> None:
    real_redis.set(KEY, b'{"result": 1, "meta": {}}')
    done = subprocess.run(
        [sys.executable, "-c", CHECK, "--url", redis_url, *args], capture_output=True, text=True, check=True
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"code": 0, "pydantic": False}, done.stderr
