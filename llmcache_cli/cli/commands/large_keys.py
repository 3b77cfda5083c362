"""``llmcache large-keys``: the largest keys by MEMORY USAGE, and memory by namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.commands._render import finish, human_bytes, human_ttl, with_progress
from llmcache_cli.cli.options import JsonOpt, PatternOpt, UrlOpt
from llmcache_cli.cli.output import emit_json, human_pct, stdout_console
from llmcache_cli.scan import total_keys

if TYPE_CHECKING:
    from llmcache_cli.diagnostics.key_sizes import LargeKeysReport

HELP = """The largest keys by MEMORY USAGE, with type, TTL and namespace, and memory by namespace.

Scans every key (SCAN COUNT 1000, MEMORY USAGE pipelined per batch); the client keeps only the
top N, so its memory stays small on any keyspace. Ctrl-C prints what was found so far.

Examples:

  llmcache large-keys

  llmcache large-keys --top 20 --pattern 'analysis:*'

  llmcache large-keys --samples 0 --json
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
    console = stdout_console()
    what = f" matching {report.pattern}" if report.pattern else ""
    console.print(
        f"Scanned {report.scanned:,} keys{what}: {human_bytes(report.total_memory_bytes)} in all",
        highlight=False,
    )
    table = Table(title=f"Top {report.top} keys by memory", title_justify="left")
    for name, justify in (("key", "left"), ("memory", "right"), ("type", "left"), ("TTL", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("namespace")
    for key in report.keys:
        table.add_row(key.key, human_bytes(key.bytes), key.type, human_ttl(key.ttl_seconds), key.namespace)
    console.print(table)
    spaces = Table(title="Memory by namespace", title_justify="left")
    for name in ("namespace", "keys", "memory", "share"):
        spaces.add_column(name, justify="left" if name == "namespace" else "right")
    total = report.total_memory_bytes
    for ns in report.namespaces:
        share = 100.0 * ns.memory_bytes / total if total else None
        spaces.add_row(ns.namespace, f"{ns.keys:,}", human_bytes(ns.memory_bytes), human_pct(share))
    console.print(spaces)


def large_keys(
    ctx: typer.Context,
    top: TopOpt = 10,
    samples: SamplesOpt = None,
    pattern: PatternOpt = None,
    json_output: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    from llmcache_cli.diagnostics.key_sizes import as_json, find_large_keys

    with app_context(ctx, url).connect() as handle:
        total = None if pattern else total_keys(handle)
        report = with_progress(
            "Measuring keys",
            total,
            lambda advance: find_large_keys(
                handle, top=top, samples=samples, pattern=pattern, on_progress=advance
            ),
        )
    if json_output:
        emit_json(as_json(report))
    else:
        render(report)
    finish(report.partial)


def register(app: typer.Typer) -> None:
    app.command("large-keys", help=HELP)(large_keys)
