"""Parsing what users type for durations and instants, with one-line usage errors.

Durations: ``90s``, ``15m``, ``1h``, ``2d``, ``1w``, compounds such as ``1h30m``, or bare seconds
(``3600``). Instants: ISO 8601 (``2024-07-03T10:00``, ``2024-07-03T14:00:00Z``,
``2024-07-03 10:00-04:00``) or ``now``; a time without an offset is New York time, the market's.
"""

from __future__ import annotations

import datetime as dt
import re

import pytz

from llmcache_cli.errors import UsageError
from llmcache_cli.limits import MAX_TTL_SECONDS
from llmcache_cli.market import NY

UNIT_SECONDS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"([0-9]+)([smhdw])")
_DURATION = re.compile(r"(?:[0-9]+[smhdw])+")
_SECONDS = re.compile(r"[0-9]+")
_MAX_TEXT = 40  # longer text cannot be a sane duration (and int() refuses huge digit strings)
DURATION_HINT = "use a whole number of seconds or units s, m, h, d, w, e.g. 90s, 15m, 1h30m, 2d"


def parse_duration(text: str, what: str = "duration") -> int:
    """Seconds in ``text``; UsageError when empty, zero, negative, garbage or over ten years."""
    cleaned = text.strip().lower().replace(" ", "") if isinstance(text, str) else ""
    if len(cleaned) > _MAX_TEXT:
        raise UsageError(f"invalid {what} {text[:_MAX_TEXT]!r}...", hint=DURATION_HINT)
    if cleaned.startswith("-") and (_SECONDS.fullmatch(cleaned[1:]) or _DURATION.fullmatch(cleaned[1:])):
        raise UsageError(f"{what} must be positive, got {text!r}", hint=DURATION_HINT)
    if _SECONDS.fullmatch(cleaned):
        seconds = int(cleaned)
    elif _DURATION.fullmatch(cleaned):
        seconds = sum(int(n) * UNIT_SECONDS[unit] for n, unit in _PART.findall(cleaned))
    else:
        raise UsageError(f"invalid {what} {text!r}", hint=DURATION_HINT)
    if seconds <= 0:
        raise UsageError(f"{what} must be longer than zero, got {text!r}", hint=DURATION_HINT)
    if seconds > MAX_TTL_SECONDS:
        raise UsageError(f"{what} {text!r} is longer than ten years", hint=DURATION_HINT)
    return seconds


def format_duration(seconds: int) -> str:
    """Compact human form, the inverse of ``parse_duration``: 5400 -> ``1h30m``, 0 -> ``0s``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_instant(text: str, what: str = "time", now: dt.datetime | None = None) -> dt.datetime:
    """An aware datetime from ISO 8601 text or ``now``. Naive times are America/New_York; a
    local time that does not exist or happens twice (DST change) must carry an offset."""
    cleaned = text.strip() if isinstance(text, str) else ""
    if cleaned.lower() == "now":
        current = now if now is not None else dt.datetime.now(pytz.utc)
        if current.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        return current
    iso = cleaned[:-1] + "+00:00" if cleaned[-1:] in ("Z", "z") else cleaned  # 3.10 lacks "Z"
    try:
        parsed = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise UsageError(
            f"invalid {what} {text!r}",
            hint="use ISO 8601 such as 2024-07-03T10:00 (New York time), 2024-07-03T14:00Z, or 'now'",
        ) from None
    try:
        if parsed.tzinfo is None:
            parsed = NY.localize(parsed, is_dst=None)
        for zone in (pytz.utc, NY):  # OverflowError when UTC or New York time is past year 9999
            parsed.astimezone(zone)
        return parsed
    except pytz.NonExistentTimeError:
        problem = "does not exist in New York (clocks spring forward)"
    except pytz.AmbiguousTimeError:
        problem = "happens twice in New York (clocks fall back)"
    except OverflowError:
        raise UsageError(
            f"{what} {text!r} is out of range", hint="use a time between the years 1 and 9999"
        ) from None
    raise UsageError(f"{what} {text!r} {problem}", hint="add a UTC offset, e.g. -04:00 or -05:00")
