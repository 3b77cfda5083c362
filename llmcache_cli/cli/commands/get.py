"""``llmcache get KEY``: one entry, with its value, meta, TTL and memory."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.commands._render import human_bytes, human_ttl
from llmcache_cli.cli.options import JsonOpt, UrlOpt
from llmcache_cli.cli.output import emit_json, stdout_console

if TYPE_CHECKING:
    from llmcache_cli.diagnostics.entry import EntryView

MAX_ITEMS = 100  # llmcache_cli.diagnostics.entry.MAX_ITEMS (not imported until the command runs)

HELP = """Show one entry: its value pretty-printed, the library's meta (model, tokens, cost),
TTL and memory.

Values that are not the library's envelope are shown too: plain JSON, text, binary (with \\x..
escapes), and hashes, lists, sets, sorted sets and streams (their first items).

Examples:

  llmcache get analysis:stock:AAPL:v1

  llmcache get sentiment:news:abc123:v1 --json
"""

KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="The exact key (not a pattern).")]
MaxItemsOpt = Annotated[
    int, typer.Option("--max-items", metavar="N", min=1, help="Items of a collection to show.")
]

KIND_NAMES = {
    "envelope": "llmcache entry (JSON envelope)",
    "json": "JSON (no llmcache envelope)",
    "text": "text (not JSON)",
    "binary": "binary (not UTF-8 text)",
}


def render(view: EntryView) -> None:
    console = stdout_console()
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("key", view.key)
    shape = KIND_NAMES.get(view.kind or "", view.type)
    size = f"{view.length:,} bytes" if view.type == "string" else f"{view.length:,} items"
    facts.add_row("type", f"{shape}, {size}")
    facts.add_row("TTL", human_ttl(view.ttl_seconds))
    facts.add_row("memory", human_bytes(view.memory_bytes))
    schema = f"namespace {view.namespace}"
    if view.data_type:
        schema += f", data type {view.data_type}"
    if view.symbol:
        schema += f", symbol {view.symbol}"
    facts.add_row("key schema", schema)
    if view.node is not None:
        facts.add_row("node", f"{view.node} (cluster primary of its slot)")
    if view.cost_usd is not None:
        facts.add_row("cost", f"${view.cost_usd:.6f}")
    console.print(facts)
    if view.meta:
        console.print("meta:", style="bold")
        console.print_json(json.dumps(view.meta, ensure_ascii=False, default=str))
    console.print("value:" + (" (truncated)" if view.truncated else ""), style="bold")
    if isinstance(view.value, str) and view.kind in ("text", "binary"):
        console.print(view.value, markup=False, highlight=False)
    elif view.value is None:
        console.print(f"(a {view.type} value; llmcache cannot show it)", highlight=False)
    else:
        console.print_json(json.dumps(view.value, ensure_ascii=False, default=str))


def get(
    ctx: typer.Context,
    key: KeyArg,
    max_items: MaxItemsOpt = MAX_ITEMS,
    json_output: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    from llmcache_cli.diagnostics.entry import as_json, read_entry

    app = app_context(ctx, url)
    with app.connect() as handle:
        view = read_entry(handle, key, stock_entities=app.settings.stock_entities, max_items=max_items)
    if json_output:
        emit_json(as_json(view))
    else:
        render(view)


def register(app: typer.Typer) -> None:
    app.command("get", help=HELP)(get)
