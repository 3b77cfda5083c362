"""``llmcache policy``: the market state and the TTL per data type, for people and as JSON."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from llmcache_cli.cli.render.tables import Col, fit
from llmcache_cli.cli.render.units import human_duration
from llmcache_cli.market import Session
from llmcache_cli.ttl_policy import PolicyReport


def session_json(session: Session | None) -> dict[str, Any] | None:
    if session is None:
        return None
    return {
        "date": session.date.isoformat(),
        "open": session.open.isoformat(),
        "close": session.close.isoformat(),
        "half_day": session.half_day,
    }


def as_json(report: PolicyReport) -> dict[str, Any]:
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


def table(report: PolicyReport, width: int) -> list[RenderableType]:
    state = "OPEN" if report.market_open else "CLOSED"
    lines = [f"Market {state} at {report.at:%Y-%m-%d %H:%M:%S %Z} (America/New_York)"]
    session = report.session
    if session is None:
        lines.append(f"No session that day: {report.closure}")
    else:
        half = ", half day" if session.half_day else ""
        lines.append(f"Session {session.open:%H:%M}-{session.close:%H:%M}{half}")
    who = f" for {report.symbol}" if report.symbol else ""
    if report.volatile_factor != 1.0:
        who += f" (volatile: x{report.volatile_factor:g})"
    elif report.volatile:
        who += f" (volatile; {report.policy} does not shorten TTLs)"
    rows = [
        (data_type, f"{seconds:,}", human_duration(seconds))
        for data_type, seconds in report.ttl_seconds.items()
    ]
    cols = [Col("data type"), Col("seconds", right=True), Col("TTL", right=True)]
    return [Text("\n".join(lines)), fit(f"TTL per data type, policy {report.policy}{who}", cols, rows, width)]
