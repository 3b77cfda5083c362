"""``stats --watch`` full screen: the layout at many sizes (rendered offline), and the real thing
in tmux at 100x30 and 160x45 (q and Ctrl-C leave it)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rich.console import Console

from llmcache_cli.cli.commands.stats_screen import frame
from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.diagnostics.dashboard import StatsReport, collect_stats
from llmcache_cli.diagnostics.stats_rates import rates_between
from llmcache_cli.keys import stats_key
from tests.cli.screen_check import check_screen
from tests.diagnostics.mixed import build_mixed

pytestmark = pytest.mark.redis
NAMESPACES = (
    "analysis",
    "sentiment",
    "technical",
    "fundamental",
    "earnings",
    "market",
    "historical",
    "chatbot",
)


def fill(client: redis.Redis) -> None:
    build_mixed(client)
    for i, ns in enumerate(NAMESPACES):
        client.hset(stats_key(ns), mapping={"hits": 30 + i, "misses": 10, "cost_saved_usd": "0.75"})


@pytest.fixture
def reports(redis_url: str, real_redis: redis.Redis) -> tuple[StatsReport, StatsReport]:
    fill(real_redis)
    with connect(ClientOptions.from_flags(redis_url)) as handle:
        first = collect_stats(handle)
        real_redis.hincrby(stats_key("analysis"), "hits", 20)
        real_redis.hincrbyfloat(stats_key("analysis"), "cost_saved_usd", 0.5)
        return first, collect_stats(handle)


@pytest.mark.parametrize(
    ("width", "height"), [(60, 20), (80, 24), (100, 30), (120, 40), (160, 45), (220, 60)]
)
def test_every_size_shows_whole_panels(
    reports: tuple[StatsReport, StatsReport], width: int, height: int
) -> None:
    before, after = reports
    console = Console(width=width, height=height, record=True, color_system=None, file=io.StringIO())
    footer = "llmcache stats: every 2s, 12:00:00; q or Ctrl-C to leave"
    console.print(frame(console, after, rates_between(before, after, 2.0), footer, width, height))
    shown = check_screen(console.export_text().splitlines(), width, height)
    if width >= 100:
        assert {"activity", "llm", "warnings"} <= shown  # the most important stay
    if (width, height) in ((160, 45), (220, 60)):
        assert shown == {"activity", "llm", "server", "keyspace", "warnings", "namespaces"}


def test_rates_between_refreshes(reports: tuple[StatsReport, StatsReport]) -> None:
    before, after = reports
    rates = rates_between(before, after, 2.0)
    assert rates.cache_hits_per_s == pytest.approx(10.0)
    assert rates.saved_usd_per_min == pytest.approx(15.0)
    assert rates.llm_calls_per_s == 0.0
    assert rates_between(after, before, 2.0).cache_hits_per_s is None  # a counter that went down


# ------------------------------------------------------------------------------------------------
# In a real terminal


class Tmux:
    def __init__(self, socket: Path) -> None:
        self.socket = str(socket)

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def screen(self) -> list[str]:
        return self("capture-pane", "-p", "-t", "watch").splitlines()

    def wait_for(self, text: str, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            if text in "\n".join(lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared:\n" + "\n".join(lines))
            time.sleep(0.1)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    assert shutil.which("tmux"), "tmux is missing: 'make test' installs it (scripts/ensure-tools.sh)"
    server = Tmux(tmp_path / "tmux.sock")
    try:
        yield server
    finally:
        subprocess.run(["tmux", "-S", server.socket, "kill-server"], capture_output=True)


def start(tmux: Tmux, url: str, width: int, height: int) -> None:
    """``stats --watch`` in a new tmux session of that size, with no user config."""
    clean = "env -u LLMCACHE_REDIS_URL -u LLMCACHE_CONFIG -u REDIS_URL -u NO_COLOR -u COLUMNS -u LINES"
    home = Path(tmux.socket).parent / "xdg"
    command = (
        f"{clean} TERM=xterm-256color XDG_CONFIG_HOME={home} "
        f"{sys.executable} -m llmcache_cli --url {url} stats --watch 0.5"
    )
    tmux(
        "new-session",
        "-d",
        "-s",
        "watch",
        "-x",
        str(width),
        "-y",
        str(height),
        f"{command}; echo EXITED $?; sleep 60",
    )


@pytest.mark.parametrize(("width", "height", "leave"), [(100, 30, "q"), (160, 45, "C-c")])
def test_in_tmux(
    tmux: Tmux, redis_url: str, real_redis: redis.Redis, width: int, height: int, leave: str
) -> None:
    fill(real_redis)
    start(tmux, redis_url, width, height)
    tmux.wait_for("q or Ctrl-C to leave")
    real_redis.hincrby(stats_key("analysis"), "hits", 50)
    lines = tmux.wait_for("/s ")  # a second refresh: rates next to the totals
    time.sleep(0.6)
    lines = tmux.screen()
    shown = check_screen(lines, width, height)
    if width == 160:
        assert shown == {"activity", "llm", "server", "keyspace", "warnings", "namespaces"}
        tmux("resize-window", "-t", "watch", "-x", "100", "-y", "30")  # refitted to the new size
        time.sleep(1.0)
        assert len(check_screen(tmux.screen(), 100, 30)) < len(shown)
    else:
        assert {"activity", "llm", "warnings", "keyspace"} <= shown
    tmux("send-keys", "-t", "watch", leave)
    after = tmux.wait_for("EXITED")
    assert "EXITED 0" in "\n".join(after)
    assert not any("╭" in line for line in after), "the full screen was left on the terminal"
