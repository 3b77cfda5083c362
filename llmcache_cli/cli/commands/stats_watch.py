"""``stats --watch`` on a terminal: the refresh loop of the full-screen view (``stats_screen``
lays out each screen). Keys are read in cbreak mode, so ``q`` leaves at once and Ctrl-C still
interrupts; a resized terminal is redrawn within ``SIZE_POLL`` seconds."""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from llmcache_cli.cli.commands.stats_screen import frame
from llmcache_cli.diagnostics.dashboard import StatsReport


class _Keys:
    """Single key presses from the terminal (cbreak mode: Ctrl-C still interrupts), restored on
    exit. Where stdin is not a terminal (or there is no termios), only Ctrl-C stops the view."""

    def __init__(self) -> None:
        self._saved: list[Any] | None = None
        self._fd = -1

    def __enter__(self) -> _Keys:
        try:
            import termios
            import tty

            self._fd = sys.stdin.fileno()
            if os.isatty(self._fd):
                self._saved = termios.tcgetattr(self._fd)
                tty.setcbreak(self._fd)
        except (ImportError, OSError, ValueError, AttributeError):
            self._saved = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def pressed(self, timeout: float) -> str | None:
        """A key pressed within ``timeout`` seconds, or None."""
        if self._saved is None:
            time.sleep(timeout)
            return None
        ready, _, _ = select.select([self._fd], [], [], timeout)
        return os.read(self._fd, 32).decode(errors="replace") if ready else None


QUIT_KEYS = ("q", "Q")
SIZE_POLL = 0.2  # seconds: how soon a resized terminal is redrawn


def watch_screen(
    refreshes: Callable[[Callable[[float], bool]], Iterator[StatsReport]], interval: float
) -> None:
    """Show each report of ``refreshes`` full screen until it ends, ``q`` or Ctrl-C."""
    from rich.live import Live

    from llmcache_cli.cli.output import stdout_console
    from llmcache_cli.diagnostics.stats_rates import rates_between

    console = stdout_console()
    state: dict[str, Any] = {}

    def draw(live: Live) -> None:
        width, height = console.size
        footer = f"llmcache stats: every {interval:g}s, {state['stamp']}; q or Ctrl-C to leave"
        live.update(frame(console, state["report"], state["rates"], footer, width, height), refresh=True)
        state["size"] = (width, height)

    with _Keys() as keys, Live(console=console, screen=True, auto_refresh=False, transient=True) as live:

        def wait(seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                key = keys.pressed(min(left, SIZE_POLL))
                if key and any(k in key for k in QUIT_KEYS):
                    return True
                if console.size != state["size"]:
                    draw(live)
            return False

        try:
            previous: tuple[StatsReport, float] | None = None
            for report in refreshes(wait):
                now = time.monotonic()
                state["rates"] = (
                    None if previous is None else rates_between(previous[0], report, now - previous[1])
                )
                state["report"] = report
                state["stamp"] = time.strftime("%H:%M:%S")
                previous = (report, now)
                draw(live)
        except KeyboardInterrupt:
            return  # the normal way to leave
