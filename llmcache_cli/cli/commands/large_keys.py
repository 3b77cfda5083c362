"""``llmcache large-keys``: the largest keys by MEMORY USAGE, and memory by namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.commands._rdb import (
    AllocatorOpt,
    DbOpt,
    NowOpt,
    PaceOpt,
    RdbOpt,
    check_live_only,
    check_pace,
    read_snapshot,
    show_report,
)
from llmcache_cli.cli.commands._render import with_progress
from llmcache_cli.cli.options import JsonOpt, PatternOpt, UrlOpt
from llmcache_cli.cli.output import stdout_console
from llmcache_cli.errors import UsageError

if TYPE_CHECKING:
    from llmcache_cli.diagnostics.key_sizes import LargeKeysReport

HELP = """The largest keys by MEMORY USAGE, with type, TTL and namespace, and memory by namespace.

Scans every key (SCAN COUNT 1000, MEMORY USAGE pipelined per batch); the client keeps only the
top N, so its memory stays small on any keyspace. Ctrl-C prints what was found so far.

With --rdb FILE the same report comes from an RDB snapshot (see 'llmcache snapshot'), with no
command sent to the server: memory is estimated the way MEMORY USAGE counts it.

Examples:

  llmcache large-keys

  llmcache large-keys --top 20 --pattern 'analysis:*'

  llmcache large-keys --samples 0 --json

  llmcache large-keys --rdb dump.rdb --top 20
"""

TopOpt = Annotated[int, typer.Option("--top", metavar="N", min=1, max=10000, help="How many keys to list.")]
SamplesOpt = Annotated[
    int | None,
    typer.Option(
        "--samples",
        metavar="N",
        min=0,
        show_default=False,
        help="MEMORY USAGE SAMPLES for collections (0: every element) [default: server's, 5].",
    ),
]


def render(report: LargeKeysReport) -> None:
    from llmcache_cli.cli.render import large_keys_view as view

    console = stdout_console()
    for part in view.table(report, console.width):
        console.print(part)


def large_keys(
    ctx: typer.Context,
    top: TopOpt = 10,
    samples: SamplesOpt = None,
    pattern: PatternOpt = None,
    json_output: JsonOpt = False,
    url: UrlOpt = None,
    rdb: RdbOpt = None,
    db: DbOpt = 0,
    now: NowOpt = None,
    allocator: AllocatorOpt = "jemalloc",
    pace: PaceOpt = None,
) -> None:
    from llmcache_cli.cli.render.large_keys_view import as_json
    from llmcache_cli.diagnostics.key_sizes import find_large_keys

    check_live_only(rdb, db, now, allocator, url)
    check_pace(pace, rdb)
    if rdb:
        if samples is not None:
            raise UsageError("--samples is for MEMORY USAGE on a server: a snapshot counts every element")
        from llmcache_cli.diagnostics import snapshot_reports as snapshot

        report, summary = read_snapshot(
            rdb,
            db,
            now,
            allocator,
            lambda source, advance: snapshot.large_keys(
                source, top=top, pattern=pattern, on_progress=advance
            ),
        )
        show_report(report, json_output, as_json, render, summary)
        return
    from llmcache_cli.scan import total_keys

    with app_context(ctx, url).connect() as handle:
        total = None if pattern else total_keys(handle)
        report = with_progress(
            "Measuring keys",
            total,
            lambda advance: find_large_keys(
                handle, top=top, samples=samples, pattern=pattern, on_progress=advance, pace=pace
            ),
        )
    show_report(report, json_output, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("large-keys", help=HELP)(large_keys)
