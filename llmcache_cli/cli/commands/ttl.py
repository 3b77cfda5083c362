"""``llmcache ttl``: TTL histogram, TTLs per data type against the policy, leaks, stale risks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.commands._rdb import (
    AllocatorOpt,
    DbOpt,
    NowOpt,
    PaceOpt,
    RdbOpt,
    check_live_only,
    check_pace,
    describe,
    pace_line,
    snapshot_source,
)
from llmcache_cli.cli.commands._render import (
    SymbolOpt,
    checked_symbol,
    finish,
    human_bytes,
    human_ttl,
    with_progress,
)
from llmcache_cli.cli.options import JsonOpt, PatternOpt, PolicyOpt, UrlOpt
from llmcache_cli.cli.output import emit_json, note, stdout_console
from llmcache_cli.errors import UsageError
from llmcache_cli.scan import total_keys

if TYPE_CHECKING:
    from llmcache_cli.diagnostics.ttl_audit import TTLReport

HELP = """TTL inspection: a histogram of remaining TTLs (keys and memory), the TTLs of each data
type against the policy's maximum, the keys with no TTL (leaks) and the keys whose TTL is longer
than their data type's policy allows (stale-data risk).

Counts are exact: every key is looked at, unless --sample N asks for a quick look.

With --rdb FILE the same report comes from an RDB snapshot, TTLs judged as of when it was taken
(or --now), with no command sent to the server.

Examples:

  llmcache ttl

  llmcache ttl --symbol AAPL --limit 50

  llmcache ttl --pattern 'sentiment:*' --sample 20000 --json

  llmcache ttl --key analysis:stock:AAPL:v1 --policy by-type

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


def render(report: TTLReport) -> None:
    console = stdout_console()
    scope = "" if report.exact else " (not every key: figures are for the keys looked at)"
    console.print(f"{report.scanned:,} keys looked at: {report.selection}{scope}", highlight=False)
    console.print(
        f"no TTL: {report.no_ttl:,}    over the {report.policy} policy: {report.over_policy:,}",
        highlight=False,
    )
    hist = Table(title="Remaining TTL", title_justify="left")
    for name in ("TTL", "keys", "memory"):
        hist.add_column(name, justify="left" if name == "TTL" else "right")
    for bucket in report.buckets:
        hist.add_row(bucket.label, f"{bucket.keys:,}", human_bytes(bucket.memory_bytes))
    console.print(hist)
    types = Table(title=f"TTL per data type against the {report.policy} policy", title_justify="left")
    for name in ("data type", "keys", "no TTL", "min", "median", "max", "policy max", "over policy"):
        types.add_column(name, justify="left" if name == "data type" else "right")
    for row in report.data_types:
        policy_max = "-" if row.policy_max_ttl_seconds is None else human_ttl(row.policy_max_ttl_seconds)
        types.add_row(
            row.group,
            f"{row.keys:,}",
            f"{row.no_ttl:,}",
            "-" if row.min_ttl_seconds is None else human_ttl(row.min_ttl_seconds),
            "-" if row.median_ttl_seconds is None else human_ttl(row.median_ttl_seconds),
            "-" if row.max_ttl_seconds is None else human_ttl(row.max_ttl_seconds),
            policy_max,
            f"{row.over_policy:,}",
        )
    console.print(types)
    if report.no_ttl_keys:
        leaks = Table(title=f"Keys with no TTL (largest {len(report.no_ttl_keys)})", title_justify="left")
        for name in ("key", "type", "memory", "namespace"):
            leaks.add_column(name, justify="right" if name == "memory" else "left")
        for key in report.no_ttl_keys:
            leaks.add_row(key.key, key.type, human_bytes(key.memory_bytes), key.namespace)
        console.print(leaks)
    if report.over_policy_keys:
        over = Table(
            title=f"Keys over the policy (furthest {len(report.over_policy_keys)})", title_justify="left"
        )
        for name in ("key", "data type", "TTL", "policy max", "memory"):
            over.add_column(name, justify="left" if name in ("key", "data type") else "right")
        for item in report.over_policy_keys:
            over.add_row(
                item.key,
                item.data_type,
                human_ttl(item.ttl_seconds),
                human_ttl(item.policy_max_ttl_seconds),
                human_bytes(item.memory_bytes),
            )
        console.print(over)


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
) -> None:
    if sum(x is not None for x in (pattern, symbol, key or None)) > 1:
        raise UsageError("--pattern, --symbol and --key select keys in different ways: use one")
    symbol = checked_symbol(symbol)
    check_live_only(rdb, db, now, allocator, url)
    check_pace(pace, rdb)
    from llmcache_cli.diagnostics.ttl_audit import as_json, inspect_ttls  # numpy, the market calendar
    from llmcache_cli.policy import make_policy

    app = app_context(ctx, url)
    policy = make_policy(app.settings, policy_name)
    if rdb:
        if sample is not None:
            raise UsageError("--sample is for a live scan: a snapshot is read whole")
        from llmcache_cli.diagnostics import snapshot
        from llmcache_cli.rdb import total_bytes

        source = snapshot_source(rdb, db, now, allocator)
        report, summary = with_progress(
            "Reading snapshot",
            total_bytes(source.paths),
            lambda advance: snapshot.inspect_ttls(
                source,
                policy,
                stock_entities=app.settings.stock_entities,
                pattern=pattern,
                symbol=symbol,
                keys=key or None,
                limit=limit,
                on_progress=advance,
            ),
        )
        if json_output:
            emit_json({**as_json(report), **summary.as_json()})
        else:
            note(describe(summary))
            render(report)
        finish(report.partial)
        return
    with app.connect() as handle:
        total = sample if sample else None if (pattern or symbol or key) else total_keys(handle)
        report = with_progress(
            "Reading TTLs",
            total,
            lambda advance: inspect_ttls(
                handle,
                policy,
                stock_entities=app.settings.stock_entities,
                pattern=pattern,
                symbol=symbol,
                keys=key or None,
                sample=sample,
                limit=limit,
                on_progress=advance,
                pace=pace,
            ),
        )
    if json_output:
        emit_json(as_json(report))
    else:
        render(report)
        line = pace_line(report.pace)
        if line:
            note(line)
    finish(report.partial)


def register(app: typer.Typer) -> None:
    app.command("ttl", help=HELP)(ttl)
