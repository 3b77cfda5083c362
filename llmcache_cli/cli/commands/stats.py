"""``llmcache stats``: the metrics dashboard, once or refreshed in place (``--watch``)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.commands._rdb import (
    AllocatorOpt,
    DbOpt,
    InServerOpt,
    NowOpt,
    PaceOpt,
    RdbOpt,
    check_live_only,
    check_pace,
    describe,
    pace_line,
    read_snapshot,
)
from llmcache_cli.cli.commands._render import finish, with_progress
from llmcache_cli.cli.options import JsonOpt, UrlOpt
from llmcache_cli.cli.output import emit_json, note, stdout_console
from llmcache_cli.client import RedisHandle
from llmcache_cli.errors import UsageError
from llmcache_cli.scan import total_keys

if TYPE_CHECKING:
    from llmcache_cli.diagnostics.dashboard import StatsReport

DEFAULT_SAMPLE = 10_000  # llmcache_cli.diagnostics.dashboard.DEFAULT_SAMPLE (imported when run)
MIN_WATCH_SECONDS = 0.01
MAX_WATCH_SECONDS = 86_400.0  # a day: a longer refresh is a typo (and inf overflows the sleep)

HELP = """The metrics dashboard: server (version, memory, clients, ops/s), keyspace (keys, TTLs,
hit rate, evictions), the LLM cache's own counters (hit rate, $ spent, $ saved, time saved),
memory by namespace, and the warnings an operator acts on.

The namespace breakdown comes from a sample of about --sample keys (marked ~); --full measures
every key. --format prometheus prints the same figures in the Prometheus text format (for a
scrape target, see 'llmcache exporter').

--watch on a terminal is a full-screen view that fits the terminal, with the rates since the
last refresh next to the totals; q or Ctrl-C leaves it. Piped, it appends one report per refresh.

With --rdb FILE the keyspace, the LLM counters and the exact breakdown come from an RDB snapshot,
with no command sent to the server (uptime, clients, ops/s and hit counts since start are not in
a snapshot).

Examples:

  llmcache stats

  llmcache stats --full --json

  llmcache --url rediss://cache.example.com:6380 stats --full --in-server

  llmcache stats --watch 5

  llmcache stats --format prometheus > /var/lib/node_exporter/textfile/llmcache.prom

  llmcache stats --full --rdb dump.rdb --json
"""


class Format(str, Enum):
    table = "table"
    json = "json"
    prometheus = "prometheus"


FullOpt = Annotated[bool, typer.Option("--full", help="Measure every key for the namespace breakdown.")]
SampleOpt = Annotated[
    int, typer.Option("--sample", metavar="N", min=1, help="Keys sampled for the breakdown.")
]


def _check_watch(value: float | None) -> float | None:
    """At parse time, before any connection: a refresh interval ``time.sleep`` can honour."""
    if value is not None and not (math.isfinite(value) and MIN_WATCH_SECONDS <= value <= MAX_WATCH_SECONDS):
        raise UsageError(
            f"--watch must be a finite number of seconds between {MIN_WATCH_SECONDS:g} and "
            f"{MAX_WATCH_SECONDS:g}, got {value:g}"
        )
    return value


WatchOpt = Annotated[
    float | None,
    typer.Option(
        "--watch",
        metavar="SECONDS",
        callback=_check_watch,
        show_default=False,
        help=f"Refresh every SECONDS until Ctrl-C. [{MIN_WATCH_SECONDS:g}<=x<={MAX_WATCH_SECONDS:g}]",
    ),
]
CountOpt = Annotated[
    int | None,
    typer.Option(
        "--count", metavar="N", min=1, show_default=False, help="With --watch: stop after N refreshes."
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format (--json is --format json).")]


def _emit(report: StatsReport, fmt: Format, compact: bool = False) -> None:
    from llmcache_cli.cli.render import stats_view as view

    if fmt is Format.json:
        emit_json(view.as_json(report), compact=compact)  # --watch: one JSON document per line
    elif fmt is Format.prometheus:
        sys.stdout.write(view.prometheus(report))
        sys.stdout.flush()
    else:
        console = stdout_console()
        console.print(view.dashboard(report, console.width))


def _refreshes(
    collect: Callable[[], StatsReport],
    interval: float,
    count: int | None,
    wait: Callable[[float], bool],
) -> Iterator[StatsReport]:
    """One report per refresh until ``count`` refreshes, an interrupted one, or ``wait``
    (between refreshes) says to stop. (Each refresh leaves the tool's own lookups out of the
    keyspace figures: ``diagnostics/own_reads.py``.)"""
    done = 0
    while True:
        report = collect()
        yield report
        done += 1
        if report.partial or (count is not None and done >= count) or wait(interval):
            return


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def _watch(collect: Callable[[], StatsReport], fmt: Format, interval: float, count: int | None) -> None:
    """Refresh until Ctrl-C (or ``count`` refreshes): a full-screen view on a terminal
    (``stats_watch``; ``q`` leaves it too), else appended."""
    if fmt is Format.table and stdout_console().is_terminal:
        from llmcache_cli.cli.commands.stats_watch import watch_screen

        watch_screen(lambda wait: _refreshes(collect, interval, count, wait), interval)
        return
    try:
        for report in _refreshes(collect, interval, count, _sleep):
            _emit(report, fmt, compact=True)
    except KeyboardInterrupt:
        return  # the normal way to leave --watch


def stats(
    ctx: typer.Context,
    full: FullOpt = False,
    sample: SampleOpt = DEFAULT_SAMPLE,
    watch: WatchOpt = None,
    count: CountOpt = None,
    fmt: FormatOpt = Format.table,
    json_output: JsonOpt = False,
    url: UrlOpt = None,
    rdb: RdbOpt = None,
    db: DbOpt = 0,
    now: NowOpt = None,
    allocator: AllocatorOpt = "jemalloc",
    pace: PaceOpt = None,
    in_server: InServerOpt = False,
) -> None:
    if json_output:
        if fmt is Format.prometheus:
            raise UsageError("--json and --format prometheus contradict each other: use one")
        fmt = Format.json
    if count is not None and watch is None:
        raise UsageError("--count only makes sense with --watch")
    check_live_only(rdb, db, now, allocator, url)
    check_pace(pace, rdb, in_server)
    if rdb:
        if watch is not None:
            raise UsageError("--watch refreshes a live server: a snapshot does not change")
        _from_snapshot(rdb, db, now, allocator, fmt)
        return
    from llmcache_cli.diagnostics.dashboard import collect_stats

    app = app_context(ctx, url)
    spaces = app.settings.cache_namespaces
    with app.connect() as handle:

        def once(advance: Callable[[int], None] | None = None) -> StatsReport:
            return collect_stats(
                handle,
                full=full,
                sample=sample,
                cache_namespaces=spaces,
                on_progress=advance,
                pace=pace,
                in_server=in_server,
            )

        if watch is not None:
            _watch(once, fmt, watch, count)
            return
        report = _collect_with_progress(handle, full, once)
    _emit(report, fmt)
    line = pace_line(report.pace)
    if line and fmt is Format.table:
        note(line)
    finish(report.partial)


def _from_snapshot(rdb: list[str], db: int, now: str | None, allocator: str, fmt: Format) -> None:
    """The dashboard from snapshots (always every key: --full is implied)."""
    from llmcache_cli.cli.render.stats_view import as_json
    from llmcache_cli.diagnostics.snapshot_stats import collect_stats

    report, summary = read_snapshot(rdb, db, now, allocator, collect_stats)
    if fmt is Format.json:
        emit_json({**as_json(report), **summary.as_json()})
    else:
        if fmt is Format.table:
            note(describe(summary))
        _emit(report, fmt)
    finish(report.partial)


def _collect_with_progress(
    handle: RedisHandle, full: bool, once: Callable[[Callable[[int], None] | None], StatsReport]
) -> StatsReport:
    if not full:
        return once(None)  # a sample takes a few milliseconds: no bar
    return with_progress("Measuring keys", total_keys(handle), once)


def register(app: typer.Typer) -> None:
    app.command("stats", help=HELP)(stats)
