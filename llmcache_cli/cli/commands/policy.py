"""``llmcache policy``: is the market open at an instant, and what TTL each data type gets."""

from __future__ import annotations

from typing import Annotated

import typer

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.options import JsonOpt, PolicyOpt
from llmcache_cli.cli.output import emit_json, stdout_console
from llmcache_cli.cli.render import policy_view as view
from llmcache_cli.durations import parse_instant
from llmcache_cli.errors import UsageError
from llmcache_cli.keys import InvalidKeyPart, check_segment
from llmcache_cli.market import MarketCalendar
from llmcache_cli.ttl_policy import explain, make_policy

HELP = """Is the market open at an instant, and what TTL does each data type get?

Shows the NYSE session of that day (9:30-16:00 New York, 13:00 on half days, or closed) and
the TTL the policy gives an entry written at that instant. Needs no Redis.

A time without an offset is New York time.

Examples:

  llmcache policy

  llmcache policy --at 2024-07-03T12:00 --symbol TSLA

  llmcache policy --at 2024-12-25T15:00:00Z --policy by-type --json
"""

AtOpt = Annotated[
    str,
    typer.Option("--at", metavar="ISO_TIME", help="The instant, ISO 8601 or 'now' (no offset: New York)."),
]
SymbolOpt = Annotated[
    str | None,
    typer.Option(
        "--symbol",
        metavar="SYMBOL",
        show_default=False,
        help="Stock symbol (volatile ones get shorter TTLs).",
    ),
]


def policy(
    ctx: typer.Context,
    at: AtOpt = "now",
    symbol: SymbolOpt = None,
    policy_name: PolicyOpt = None,
    json_output: JsonOpt = False,
) -> None:
    settings = app_context(ctx).settings
    instant = parse_instant(at, what="--at")
    if symbol is not None:
        try:
            check_segment(symbol, "symbol")
        except InvalidKeyPart as exc:
            raise UsageError(str(exc), hint="a symbol is one key segment, e.g. AAPL") from None
    calendar = MarketCalendar.from_settings(settings)
    ttl_policy = make_policy(settings, policy_name, calendar=calendar)
    report = explain(settings, ttl_policy, calendar, instant, symbol)
    if json_output:
        emit_json(view.as_json(report))
    else:
        console = stdout_console()
        for part in view.table(report, console.width):
            console.print(part, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("policy", help=HELP)(policy)
