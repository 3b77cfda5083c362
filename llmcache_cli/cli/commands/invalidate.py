"""``llmcache invalidate`` and ``llmcache purge-version``: the commands that delete data.

Guarded (STYLE lesson 6): a preview of what goes (keys, memory, $ to regenerate), confirmation
on a terminal, refusal without one unless ``--yes``, ``--dry-run``, and a raw glob only with an
explicit ``--pattern`` that never means "everything" without ``--all``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from llmcache_cli import invalidation as inv
from llmcache_cli.cli import output
from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.commands._rdb import PaceOpt, pace_line
from llmcache_cli.cli.options import JsonOpt, UrlOpt
from llmcache_cli.cli.progress import scan_progress

if TYPE_CHECKING:
    from llmcache_cli.client import RedisHandle
from llmcache_cli.errors import EXIT_INTERRUPTED, EXIT_OPERATIONAL, UsageError

INVALIDATE_HELP = """Delete exactly the cache entries of one or more stock symbols.

A key belongs to AAPL when its symbol segment is exactly AAPL (case-sensitive, a stock entity,
plain or hash-tagged): AAPLX, aapl, AAPL.X and other entities are never touched, and * ? [ ] in a
symbol are plain text. Shows the keys, memory and $ to regenerate first; asks on a terminal;
without a terminal it refuses unless --yes. Uses the symbol's index set when the library keeps
one (--scan to always scan the whole keyspace).

Examples:

  llmcache invalidate AAPL --dry-run

  llmcache invalidate AAPL MSFT --event earnings --yes

  llmcache invalidate --pattern 'chatbot:*' --yes --json

  llmcache invalidate --pattern 'chatbot:*' --pace 10 --yes   (a SCAN kept to 10% of a server core)
"""

PURGE_HELP = """Delete every entry of an old cache version (the key's last segment).

A version is anything [cache] version accepts (v1, 2024-06, ...): the keys the library wrote
with it end in ":<version>".

Same safety rules as invalidate: preview, confirmation on a terminal, --yes without one,
--dry-run to look only.

Examples:

  llmcache purge-version v1 --dry-run

  llmcache purge-version 2024-06 --namespace analysis --yes --json

  llmcache purge-version v1 --pace 10 --yes   (the SCAN kept to 10% of a server core)
"""

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Delete without asking (needed without a terminal).")
]
ScanCountOpt = Annotated[
    int,
    typer.Option(
        "--scan-count",
        metavar="N",
        min=10,
        max=100_000,
        help="SCAN COUNT hint: larger means fewer round trips but longer server pauses.",
    ),
]


def invalidate(
    ctx: typer.Context,
    symbols: Annotated[
        list[str] | None, typer.Argument(metavar="SYMBOL", show_default=False, help="Stock symbols.")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type", metavar="DATA_TYPE", show_default=False, help="Only this data type (repeatable)."
        ),
    ] = None,
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            metavar="earnings|news",
            show_default=False,
            help="earnings: analysis, fundamental and earnings entries; news: sentiment entries.",
        ),
    ] = None,
    pattern: Annotated[
        str | None,
        typer.Option(
            "--pattern", metavar="GLOB", show_default=False, help="A raw SCAN glob instead of symbols."
        ),
    ] = None,
    all_keys: Annotated[
        bool, typer.Option("--all", help="Confirm that a catch-all --pattern ('*') is really meant.")
    ] = False,
    scan: Annotated[
        bool,
        typer.Option(
            "--scan", help="Ignore the per-symbol index: SCAN the keyspace (finds keys of other code)."
        ),
    ] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    scan_count: ScanCountOpt = inv.SCAN_COUNT,
    pace: PaceOpt = None,
    url: UrlOpt = None,
) -> None:
    app = app_context(ctx, url)
    data_types = inv.data_type_filter(types or (), event)
    if pattern is not None:
        if symbols:
            raise UsageError("give SYMBOLs or --pattern, not both")
        targets: tuple[inv.Target, ...] = (
            inv.pattern_target(pattern, data_types, all_keys, app.settings.stock_entities),
        )
    else:
        if all_keys:
            raise UsageError("--all only confirms a catch-all --pattern", hint="e.g. --pattern '*' --all")
        targets = inv.symbol_targets(symbols or (), app.settings.stock_entities, data_types)
    targets = _cache_only(targets, app.settings.cache_namespaces)
    _guarded_delete(ctx, url, targets, dry_run, yes, json_out, scan_count, use_index=not scan, pace=pace)


def purge_version(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="The cache version to remove, e.g. v1.")],
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", metavar="N", show_default=False, help="Only keys of this namespace."),
    ] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    scan_count: ScanCountOpt = inv.SCAN_COUNT,
    pace: PaceOpt = None,
    url: UrlOpt = None,
) -> None:
    settings = app_context(ctx, url).settings
    targets = _cache_only(
        (inv.version_target(old, namespace, settings.stock_entities),), settings.cache_namespaces
    )
    current = old == settings.cache_version
    note = f"note: {old} is the current cache version (cache.version): its entries will be recomputed"
    _guarded_delete(
        ctx, url, targets, dry_run, yes, json_out, scan_count, False, note if current else None, pace
    )


def _cache_only(targets: tuple[inv.Target, ...], cache_namespaces: frozenset[str]) -> tuple[inv.Target, ...]:
    """Symbols and versions reach cache entries only: keys of other namespaces (not a data type,
    not in [keys] namespaces) go only with a raw --pattern, or a --namespace that names them."""
    return tuple(dataclasses.replace(t, cache_namespaces=cache_namespaces) for t in targets)


def _hint_other_cases(handle: RedisHandle, result: inv.Invalidation) -> None:
    """``invalidate aapl`` found nothing: say so when ``AAPL`` has entries."""
    from llmcache_cli.cli.render.invalidate_view import case_hint
    from llmcache_cli.diagnostics.symbols import other_cases

    empty = [t.target for t in result.targets if t.target.kind == "symbol" and t.matched == 0]
    found = {t.symbol: other_cases(handle, t.symbol, t.entities) for t in empty if t.symbol is not None}
    for line in case_hint(found):
        output.note(line)


def _guarded_delete(
    ctx: typer.Context,
    url: str | None,
    targets: tuple[inv.Target, ...],
    dry_run: bool,
    yes: bool,
    json_out: bool,
    count: int,
    use_index: bool,
    note: str | None = None,
    pace: float | None = None,
) -> None:
    interactive = not dry_run and not yes
    if interactive and not output.stdin_is_terminal():
        raise UsageError(
            "refusing to delete without confirmation: stdin is not a terminal",
            hint="pass --yes to delete, or --dry-run to see what would go",
        )
    if note:
        output.note(note)
    with app_context(ctx, url).connect() as handle:
        plan = inv.plan(handle, targets, use_index)
        label = "previewing" if dry_run or interactive else "invalidating"
        with scan_progress(label, plan.work) as advance:
            result = inv.run(
                handle,
                plan,
                delete=not (dry_run or interactive),
                count=count,
                on_progress=advance,
                keep_keys=interactive,
                pace=pace,
            )
        if interactive and result.complete and result.matched:
            render(result, json_out=False, console=output.stderr_console(), asking=True)
            these = "this key" if result.matched == 1 else f"these {result.matched:,} keys"
            if not typer.confirm(f"Delete {these}?", default=False, err=True):
                # Not an error, but not done either: exit 1 tells a script that nothing changed.
                output.note("nothing deleted")
                raise typer.Exit(EXIT_OPERATIONAL)
            with scan_progress("deleting", result.matched) as advance:
                # The deletion of previewed keys scans nothing: the pace is the preview's SCAN's.
                result = dataclasses.replace(
                    inv.delete_previewed(handle, result, on_progress=advance), pace=result.pace
                )
            render(result, json_out, table=False)  # the table was just shown with the question
        else:
            if interactive and result.complete:  # nothing matched: nothing to ask about
                result = dataclasses.replace(result, dry_run=False)
            render(result, json_out)
            if result.complete and not json_out:
                _hint_other_cases(handle, result)
    if not result.complete:
        output.note("interrupted: the figures above cover only what was scanned so far")
        raise typer.Exit(EXIT_INTERRUPTED)


def render(
    result: inv.Invalidation,
    json_out: bool,
    console: Console | None = None,
    table: bool = True,
    asking: bool = False,
) -> None:
    from llmcache_cli.cli.render import invalidate_view as view

    if json_out:
        output.emit_json(view.as_json(result))
        return
    console = console or output.stdout_console()
    for part in view.table(result, console.width, with_table=table, asking=asking):
        console.print(part, markup=False, highlight=False, soft_wrap=True)
    line = pace_line(result.pace)
    if line and not asking:
        output.note(line)


def register(app: typer.Typer) -> None:
    app.command("invalidate", help=INVALIDATE_HELP)(invalidate)
    app.command("purge-version", help=PURGE_HELP)(purge_version)
