"""Tables fit 80 columns, the width of piped output, and never cut a number, a TTL or a header:
the only "…" allowed is the middle of a long key."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import redis

from tests.cli.conftest import Invoke
from tests.diagnostics.mixed import build_mixed

pytestmark = pytest.mark.redis

LONG_KEYS = {
    "fundamental:stock:AAPL:" + "a1b2c3d4" * 9: 30 * 86_400,  # over the policy by weeks
    "analysis:stock:MSFT:" + "e5f6a7b8" * 9: None,  # a long key without TTL
    "session:user:" + "9" * 60: 69 * 86_400,  # not the cache's: never judged
}
COMMANDS = (["ttl", "--limit", "50"], ["large-keys", "--top", "50"], ["stats"], ["stats", "--full"])


@pytest.fixture
def keyspace(real_redis: redis.Redis) -> redis.Redis:
    build_mixed(real_redis)
    for key, ttl in LONG_KEYS.items():
        real_redis.set(key, "x" * 5000, ex=ttl)
    real_redis.hset("llmcache:stats:analysis", mapping={"hits": 123_456_789, "misses": 9_876_543})
    real_redis.hset("llmcache:stats:analysis", "cost_saved_usd", 12_345.678)
    return real_redis


def check(output: str) -> None:
    lines = output.splitlines()
    assert lines
    for line in lines:
        assert len(line) <= 80, f"{len(line)} columns: {line!r}"
        for word in line.split():
            if "…" in word:  # only a long key, shortened in its middle
                head, _, tail = word.partition("…")
                assert any(k.startswith(head) and k.endswith(tail) for k in LONG_KEYS), line
    assert not re.search(r"\b\d+[dhms]\d+[dhms]", output), "a duration in two units without a space"


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_at_80_columns(cli: Invoke, redis_url: str, keyspace: redis.Redis, args: list[str]) -> None:
    result = cli("--url", redis_url, *args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    check(result.stdout)


def test_piped(redis_url: str, keyspace: redis.Redis) -> None:
    """Real processes writing into a pipe, no COLUMNS: Rich's default width."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    for args in COMMANDS[:3]:
        done = subprocess.run(
            [sys.executable, "-m", "llmcache_cli", "--url", redis_url, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        check(done.stdout)
        assert "\x1b[" not in done.stdout  # no colour codes in a pipe
    ttl = subprocess.run(
        [sys.executable, "-m", "llmcache_cli", "--url", redis_url, "ttl"],
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert "29d 23h" in ttl and "session:user" not in ttl  # judged in two units; other keys never
