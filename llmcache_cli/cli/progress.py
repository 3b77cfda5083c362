"""Progress for long scans: a Rich bar on stderr when stderr is a terminal, silence otherwise.

The core never knows about the terminal: it accepts an ``on_progress(n)`` callback, and the
command passes the one made here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Advance = Callable[[int], None]


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def scan_progress(label: str, total: int | None) -> Iterator[Advance]:
    """Yield ``advance(n)``; the bar disappears when the block ends (or is interrupted)."""
    if not _stderr_is_terminal():
        yield lambda n: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
