from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from typer.testing import CliRunner, Result

from llmcache_cli.cli.app import app
from tests.diagnostics.mixed import Mixed, build_mixed

Invoke = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Invoke:
    """Run ``llmcache ARGS`` in-process with a wide, colourless terminal and no stray config."""
    for name in ("LLMCACHE_REDIS_URL", "REDIS_URL", "LLMCACHE_CONFIG", "LLMCACHE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env, prog_name="llmcache")

    return invoke


def json_of(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def mixed(real_redis: redis.Redis) -> Mixed:
    return build_mixed(real_redis)
