"""``llmcache get KEY``: one entry, with its value, meta, TTL and memory."""

from __future__ import annotations

from typing import Annotated

import typer

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.options import JsonOpt, UrlOpt
from llmcache_cli.cli.output import emit_json, stdout_console

MAX_ITEMS = 100  # llmcache_cli.diagnostics.entry_inspect.MAX_ITEMS (not imported until the command runs)

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


def get(
    ctx: typer.Context,
    key: KeyArg,
    max_items: MaxItemsOpt = MAX_ITEMS,
    json_output: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    from llmcache_cli.cli.render import entry_view as view_of
    from llmcache_cli.diagnostics.entry_inspect import read_entry

    app = app_context(ctx, url)
    with app.connect() as handle:
        view = read_entry(handle, key, stock_entities=app.settings.stock_entities, max_items=max_items)
    if json_output:
        emit_json(view_of.as_json(view))
    else:
        view_of.show(view, stdout_console())


def register(app: typer.Typer) -> None:
    app.command("get", help=HELP)(get)
