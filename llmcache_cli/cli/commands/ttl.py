"""``llmcache ttl``: TTL histogram, TTLs per data type against the policy, leaks, stale risks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
    read_snapshot,
    show_report,
)
from llmcache_cli.cli.commands._render import SymbolOpt, checked_symbol, with_progress
from llmcache_cli.cli.options import JsonOpt, PatternOpt, PolicyOpt, UrlOpt
from llmcache_cli.cli.output import stdout_console
from llmcache_cli.errors import UsageError
from llmcache_cli.scan import total_keys

if TYPE_CHECKING:
    from llmcache_cli.diagnostics.ttl_audit import TTLReport

HELP = """TTL inspection: a histogram of remaining TTLs (keys and memory), the TTLs of each data
type against the policy's maximum, the cache entries with no TTL (leaks) and those whose TTL is
longer than their data type's policy allows (stale-data risk).

Only cache entries are judged: llmcache's own bookkeeping (llmcache:*) and keys outside the
cache's namespaces (the data types, and [keys] namespaces in the config) are counted apart.

Counts are exact: every key is looked at, unless --sample N asks for a quick look.

With --rdb FILE the same report comes from an RDB snapshot, TTLs judged as of when it was taken
(or --now), with no command sent to the server.

Examples:

  llmcache ttl

  llmcache ttl --symbol AAPL --limit 50

  llmcache ttl --pattern 'sentiment:*' --sample 20000 --json

  llmcache ttl --key analysis:stock:AAPL:v1 --policy by-type

  llmcache --url rediss://cache.example.com:6380 ttl --in-server

  llmcache ttl --rdb backups/ --now 2026-01-05T14:30:00Z
"""

KeyOpt = Annotated[
    list[str] | None,
    typer.Option("--key", metavar="KEY", show_default=False, help="Only this key (repeatable)."),
]
SampleOpt = Annotated[
    int | None,
    typer.Option(
        "--sample", metavar="N", min=1, show_default=False, help="Look at about N keys only [default: all]."
    ),
]
LimitOpt = Annotated[
    int, typer.Option("--limit", metavar="N", min=0, help="How many keys to list per finding.")
]


def _show(report: TTLReport) -> None:
    from llmcache_cli.cli.render import ttl_view as view

    console = stdout_console()
    for part in view.table(report, console.width):
        console.print(part)


def ttl(
    ctx: typer.Context,
    pattern: PatternOpt = None,
    symbol: SymbolOpt = None,
    key: KeyOpt = None,
    sample: SampleOpt = None,
    limit: LimitOpt = 20,
    policy_name: PolicyOpt = None,
    json_output: JsonOpt = False,
    url: UrlOpt = None,
    rdb: RdbOpt = None,
    db: DbOpt = 0,
    now: NowOpt = None,
    allocator: AllocatorOpt = "jemalloc",
    pace: PaceOpt = None,
    in_server: InServerOpt = False,
) -> None:
    if sum(x is not None for x in (pattern, symbol, key or None)) > 1:
        raise UsageError("--pattern, --symbol and --key select keys in different ways: use one")
    symbol = checked_symbol(symbol)
    check_live_only(rdb, db, now, allocator, url)
    check_pace(pace, rdb, in_server)
    from llmcache_cli.cli.render.ttl_view import as_json
    from llmcache_cli.diagnostics.ttl_audit import inspect_ttls  # the market calendar
    from llmcache_cli.ttl_policy import make_policy

    app = app_context(ctx, url)
    policy = make_policy(app.settings, policy_name)
    selection: dict[str, Any] = {  # what the live and the snapshot report both look at
        "stock_entities": app.settings.stock_entities,
        "cache_namespaces": app.settings.cache_namespaces,
        "pattern": pattern,
        "symbol": symbol,
        "keys": key or None,
    }
    if rdb:
        if sample is not None:
            raise UsageError("--sample is for a live scan: a snapshot is read whole")
        from llmcache_cli.diagnostics import snapshot_reports as snapshot

        report, summary = read_snapshot(
            rdb,
            db,
            now,
            allocator,
            lambda source, advance: snapshot.inspect_ttls(
                source, policy, **selection, limit=limit, on_progress=advance
            ),
        )
        show_report(report, json_output, as_json, _show, summary)
        return
    with app.connect() as handle:
        total = sample if sample else None if (pattern or symbol or key) else total_keys(handle)
        report = with_progress(
            "Reading TTLs",
            total,
            lambda advance: inspect_ttls(
                handle,
                policy,
                **selection,
                sample=sample,
                limit=limit,
                on_progress=advance,
                pace=pace,
                in_server=in_server,
            ),
        )
    show_report(report, json_output, as_json, _show)


def register(app: typer.Typer) -> None:
    app.command("ttl", help=HELP)(ttl)
