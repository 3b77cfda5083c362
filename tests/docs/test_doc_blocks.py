"""Every code block of README.md and docs/*.md does what it shows (markers: ``tests/docs/blocks.py``).

Python blocks run as separate processes against the test's real redis-server. Shell blocks run
command by command in-process (``CliRunner``) against the same server filled with a small
realistic keyspace (restored before each block); ``redis://localhost:6379`` in a command, the
default URL, means that server. A command the block shows failing (``llmcache: error:`` next)
must fail with that one line; every other must exit 0. ``--watch`` gets ``--count 1``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from llmcache_cli.cli.app import app
from tests.docs.blocks import ROOT, Block, ShellCommand, all_blocks, shell_commands
from tests.support.servers import RedisServer

BLOCKS = all_blocks()
PYTHON = [b for b in BLOCKS if b.is_python and b.marker != "skip"]
SHELL = [b for b in BLOCKS if b.is_shell and b.marker != "skip"]
STOP_TOKENS = {"|", ">", ">>", ";", "&&", "||", "&"}
DEFAULT_URL = re.compile(r"redis://(localhost|127\.0\.0\.1):6379(/0)?(?=\s|$)")


def test_the_blocks_are_found_and_every_marker_is_understood() -> None:
    assert len(PYTHON) >= 4 and len(SHELL) >= 10
    for block in BLOCKS:
        if block.marker == "skip":
            assert block.detail, f"{block.id}: a skip marker needs a reason"
        if block.marker == "given":
            assert block.is_python and set(block.given) <= {"cache", "llm"}, block.id


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_python_block_runs(block: Block, redis_url: str, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(block.text, encoding="utf-8")
    env = {**os.environ, "LLMCACHE_REDIS_URL": redis_url, "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("LLMCACHE_CONFIG", None)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("run_block.py")), str(script), *block.given],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{block.id}\n{block.text}\n{done.stdout}\n{done.stderr}"


# -- shell blocks ------------------------------------------------------------------------------


async def _write_library_entries(url: str, trace: Path) -> None:
    from llmcache_cli import CacheService, cached

    async with CacheService(url, trace_path=str(trace)) as cache:
        await cache.set("analysis:stock:AAPL:v1", {"view": "buy"}, ttl=3600)
        await cache.set("analysis:stock:AAPL:2", {"summary": "x" * 100, "score": 0.5}, ttl=86400)

        class Bot:
            def __init__(self) -> None:
                self.cache = cache

            @cached(data_type="technical")
            async def signal(self, symbol: str, bar: int) -> dict[str, Any]:
                return {"symbol": symbol, "signal": bar % 3}

        bot = Bot()
        for bar in range(20):
            await bot.signal("AAPL", bar % 5)


@pytest.fixture(scope="module")
def keyspace(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], Path]:
    """A snapshot (DUMP, PTTL of every key) of a populated cache, and a directory with a trace."""
    workdir = tmp_path_factory.mktemp("docs-shell")
    admin = redis_server.admin()
    admin.flushall()
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--symbols",
            "AAPL,MSFT,TSLA,AAPLX",
            "--data-types",
            "all",
            "--days",
            "2",
            "--populate",
            redis_server.url,
        ],
    )
    assert result.exit_code == 0, result.output
    asyncio.run(_write_library_entries(redis_server.url, workdir / "bot-trace.jsonl"))
    admin.rpush("queue:jobs:x", "a", "b", "c")
    snapshot = [(key, admin.dump(key), admin.pttl(key)) for key in admin.scan_iter(count=1000)]
    admin.close()
    return snapshot, workdir


def _restore(client: redis.Redis, snapshot: list[Any]) -> None:
    client.flushall()
    pipe = client.pipeline(transaction=False)
    for key, dumped, pttl in snapshot:
        pipe.restore(key, max(pttl, 0), dumped)
    pipe.execute()


def _argv(command: ShellCommand, url: str, env: dict[str, str]) -> list[str] | None:
    """The llmcache arguments of a documented command (None for ``export``, which sets env)."""
    lexer = shlex.shlex(DEFAULT_URL.sub(url, command.line), posix=True, punctuation_chars="|&;>")
    lexer.whitespace_split = True
    tokens: list[str] = []
    for token in lexer:
        if token in STOP_TOKENS:
            break
        tokens.append(token)
    if tokens[:1] == ["export"]:
        for assignment in tokens[1:]:
            name, _, value = assignment.partition("=")
            env[name] = value
        return None
    assert tokens[:1] == ["llmcache"], (
        f"{command.line!r}: only llmcache commands run here; mark the block "
        "'<!-- docs-test: skip: REASON -->' if it needs something else"
    )
    args = tokens[1:]
    if "--watch" in args and "--count" not in args:
        args += ["--count", "1"]
    return args


@pytest.mark.parametrize("block", SHELL, ids=lambda b: b.id)
def test_shell_block_runs(
    block: Block,
    keyspace: tuple[list[Any], Path],
    redis_url: str,
    real_redis: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    snapshot, workdir = keyspace
    _restore(real_redis, snapshot)
    monkeypatch.chdir(workdir)
    env = {
        "LLMCACHE_REDIS_URL": redis_url,
        "REDIS_URL": "",
        "LLMCACHE_CONFIG": "",
        "XDG_CONFIG_HOME": str(tmp_path),
        "NO_COLOR": "1",
        "COLUMNS": "80",
    }
    for name in ("LLMCACHE_CONFIG", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    commands = shell_commands(block)
    assert commands, f"{block.id}: a shell block with no command"
    for command in commands:
        args = _argv(command, redis_url, env)
        if args is None:
            continue
        result = CliRunner().invoke(app, args, env={k: v for k, v in env.items() if v}, prog_name="llmcache")
        shown = f"{block.id}: $ {command.line}\nexit {result.exit_code}\n{result.output}"
        if command.expects_error:
            assert result.exit_code != 0 and "llmcache: error:" in result.output, shown
        else:
            assert result.exit_code == 0, shown
