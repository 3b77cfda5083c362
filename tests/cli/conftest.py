from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from typer.testing import CliRunner, Result

from llmcache_cli.cli.app import app
from llmcache_cli.client import ClientOptions, RedisHandle, connect
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
def handle(redis_url: str) -> Iterator[RedisHandle]:
    """A connected handle to the real server, for the renderers' tests (cli/render)."""
    with connect(ClientOptions.from_flags(redis_url)) as h:
        yield h


@pytest.fixture
def mixed(real_redis: redis.Redis) -> Mixed:
    return build_mixed(real_redis)
