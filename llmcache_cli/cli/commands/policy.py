"""``llmcache policy``: is the market open at an instant, and what TTL each data type gets."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.options import JsonOpt, PolicyOpt
from llmcache_cli.cli.output import emit_json, stdout_console
from llmcache_cli.durations import format_duration, parse_instant
from llmcache_cli.errors import UsageError
from llmcache_cli.keys import InvalidKeyPart, check_segment
from llmcache_cli.market import MarketCalendar, Session
from llmcache_cli.policy import PolicyReport, explain, make_policy

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


def session_json(session: Session | None) -> dict[str, Any] | None:
    if session is None:
        return None
    return {
        "date": session.date.isoformat(),
        "open": session.open.isoformat(),
        "close": session.close.isoformat(),
        "half_day": session.half_day,
    }


def report_json(report: PolicyReport) -> dict[str, Any]:
    return {
        "at": report.at.isoformat(),
        "policy": report.policy,
        "symbol": report.symbol,
        "volatile": report.volatile,
        "volatile_factor": report.volatile_factor,
        "market_open": report.market_open,
        "session": session_json(report.session),
        "closure": report.closure,
        "ttl_seconds": dict(report.ttl_seconds),
    }


def render(report: PolicyReport) -> None:
    console = stdout_console()
    state = "OPEN" if report.market_open else "CLOSED"
    console.print(f"Market {state} at {report.at:%Y-%m-%d %H:%M:%S %Z} (America/New_York)", highlight=False)
    session = report.session
    if session is None:
        console.print(f"No session that day: {report.closure}", highlight=False)
    else:
        half = ", half day" if session.half_day else ""
        console.print(f"Session {session.open:%H:%M}-{session.close:%H:%M}{half}", highlight=False)
    who = f" for {report.symbol}" if report.symbol else ""
    if report.volatile_factor != 1.0:
        who += f" (volatile: x{report.volatile_factor:g})"
    elif report.volatile:
        who += f" (volatile; {report.policy} does not shorten TTLs)"
    console.print(f"TTL per data type, policy {report.policy}{who}:", highlight=False)
    table = Table()
    table.add_column("data type")
    table.add_column("seconds", justify="right")
    table.add_column("TTL", justify="right")
    for data_type, seconds in report.ttl_seconds.items():
        table.add_row(data_type, str(seconds), format_duration(seconds))
    console.print(table)


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
        emit_json(report_json(report))
    else:
        render(report)


def register(app: typer.Typer) -> None:
    app.command("policy", help=HELP)(policy)
