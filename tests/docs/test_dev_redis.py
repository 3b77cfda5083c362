"""`make dev` / `make redis-stop` (scripts/dev-redis.sh): a server the README's quick start can
point llmcache at, started, found again, and stopped (only ours)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from tests.docs.blocks import ROOT
from tests.support.servers import free_port

SCRIPT = ROOT / "scripts" / "dev-redis.sh"


def run(action: str, env: dict[str, str]) -> str:
    done = subprocess.run([str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dev_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LLMCACHE_DEV_PORT": str(port), "LLMCACHE_DEV_DIR": str(tmp_path / "redis")}
    try:
        started = run("start", env)
        assert f"started on 127.0.0.1:{port}" in started and "make redis-stop" in started
        client = redis.Redis(port=port)
        assert client.ping()
        assert "already running" in run("start", env)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "llmcache_cli",
                "--url",
                f"redis://localhost:{port}/0",
                "stats",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    finally:
        stopped = run("stop", env)
    assert "is stopped" in stopped
    assert "no dev redis-server of ours" in run("stop", env)
