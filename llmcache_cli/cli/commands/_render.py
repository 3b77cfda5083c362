"""Shared pieces of the operator commands (stats, ttl, large-keys, get): the --symbol option,
the scan-with-progress flow, and the Ctrl-C ending (partial results, exit 130). How figures
read is ``cli/render/units.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from llmcache_cli.cli.output import note
from llmcache_cli.cli.progress import Advance, scan_progress
from llmcache_cli.errors import EXIT_INTERRUPTED, UsageError
from llmcache_cli.keys import InvalidKeyPart, check_segment

T = TypeVar("T")

SymbolOpt = Annotated[
    str | None,
    typer.Option(
        "--symbol",
        metavar="SYMBOL",
        show_default=False,
        help="Only this stock symbol's keys (exact, case-sensitive; not a pattern).",
    ),
]


def checked_symbol(symbol: str | None) -> str | None:
    if symbol is None:
        return None
    try:
        return check_segment(symbol, "symbol")
    except InvalidKeyPart as exc:
        raise UsageError(str(exc), hint="a symbol is one key segment, e.g. AAPL") from None


def with_progress(label: str, total: int | None, collect: Callable[[Advance], T]) -> T:
    """Run a scan with a progress bar on stderr (only when stderr is a terminal)."""
    with scan_progress(label, total) as advance:
        return collect(advance)


def finish(partial: bool) -> None:
    """After the output: an interrupted scan says so and exits 130."""
    if partial:
        note("llmcache: interrupted: the figures above cover only the keys scanned so far")
        raise typer.Exit(EXIT_INTERRUPTED)
