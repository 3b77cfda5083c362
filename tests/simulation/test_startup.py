"""Start-up of ``llmcache simulate`` (the default run well under a second; measured in ``make
bench``): what the default run must not import, and the same figures whichever way the options
are left out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHECK = """
import contextlib, io, json, sys
sys.argv = ["llmcache", "simulate", *sys.argv[1:]]
from llmcache_cli.cli.app import run
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        run()
    except SystemExit as exc:
        code = exc.code
heavy = ("redis",)
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules], "out": out.getvalue()}))
"""


def run_cli(*args: str) -> dict[str, object]:
    env = {**os.environ, "NO_COLOR": "1"}
    command = [sys.executable, "-c", CHECK, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_default_run_imports_no_redis_client() -> None:
    """The simulation needs no Redis: the default run does not import redis-py."""
    for args in ((), ("--json",)):
        got = run_cli(*args)
        assert got["code"] == 0 and got["loaded"] == [], (args, got)


def test_defaults_filled_in_are_the_documented_ones() -> None:
    """Options default to None in the command and are filled in there: the JSON is the same as
    with every default given explicitly."""
    implicit = json.loads(str(run_cli("--json")["out"]))
    explicit = json.loads(
        str(
            run_cli(
                "--json", "--llm-latency-ms", "500", "--cache-latency-ms", "5", "--engine", "auto",
                "--symbols", "50", "--interval", "15m", "--days", "1", "--start", "2025-06-02",
                "--cost-per-call", "0.01", "--seed", "1", "--policy", "flat", "--key-strategy", "symbol",
            )["out"]
        )
    )  # fmt: skip
    assert implicit == explicit
    assert implicit["requests"] == 1300 and implicit["parameters"]["llm_latency_ms"] == 500
