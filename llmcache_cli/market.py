"""The NYSE market calendar (docs/design.md, "TTL semantics"): regular sessions, holidays, half days.

A regular session runs 9:30–16:00 America/New_York, Monday to Friday; NYSE holidays are closed,
NYSE half days close at 13:00. Holidays come from the ``holidays`` package (a well-kept source,
including the unplanned closures it knows about), plus ``extra_closures`` from the config for
closures it does not know yet. Times are built with ``NY.localize`` (never ``tzinfo=`` on a naive
datetime), so 9:30 is 13:30 UTC in summer and 14:30 UTC in winter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytz

from llmcache_cli.config import Settings

NY = pytz.timezone("America/New_York")
REGULAR_OPEN = dt.time(9, 30)
REGULAR_CLOSE = dt.time(16, 0)
HALF_DAY_CLOSE = dt.time(13, 0)
SATURDAY = 5
# "... (markets close at 1:00pm)": the names the holidays package gives NYSE early closes.
_CLOSE_AT = re.compile(r"close at (\d{1,2}):(\d{2})\s*([ap]m)", re.IGNORECASE)


@dataclass(frozen=True)
class Session:
    """One trading day. ``open`` and ``close`` are aware datetimes in America/New_York."""

    date: dt.date
    open: dt.datetime
    close: dt.datetime
    half_day: bool

    def contains(self, at: dt.datetime) -> bool:
        """``open <= at < close``: the market is open at the open and closed at the close."""
        return self.open <= at < self.close


@dataclass(frozen=True)
class _Year:
    closures: Mapping[dt.date, str]  # date -> why the exchange is closed all day
    early_closes: Mapping[dt.date, dt.time]  # date -> closing time (local)


def rule_half_days(year: int) -> dict[dt.date, dt.time]:
    """NYSE's standing 13:00 early closes, used only when the installed ``holidays`` package
    does not provide NYSE half days (its ``half_day`` category; older versions lack it).

    The rule, valid from 2004: the day after Thanksgiving (fourth Thursday of November); July 3
    when it falls Monday–Thursday; December 24 when it falls Monday–Thursday. On a Friday those
    days are the observed Independence Day / Christmas holiday itself, so not an early close
    (e.g. 2020-07-03, 2021-12-24), and July 1 is never one (2022).
    """
    nov_1 = dt.date(year, 11, 1)
    thanksgiving = nov_1 + dt.timedelta(days=(3 - nov_1.weekday()) % 7 + 21)
    days = [thanksgiving + dt.timedelta(days=1)]
    days += [d for d in (dt.date(year, 7, 3), dt.date(year, 12, 24)) if d.weekday() <= 3]
    return dict.fromkeys(days, HALF_DAY_CLOSE)


def _close_time(name: str) -> dt.time:
    match = _CLOSE_AT.search(name)
    if not match:
        return HALF_DAY_CLOSE
    hour, minute, half = int(match.group(1)) % 12, int(match.group(2)), match.group(3).lower()
    return dt.time(hour + (12 if half == "pm" else 0), minute)


def nyse_class() -> Any:
    """The ``holidays`` package's NYSE calendar class (``holidays.NYSE``, its public name; the
    package loads its financial calendars on first use)."""
    import holidays

    return holidays.NYSE


def _nyse_year(year: int) -> _Year:
    """One year of NYSE closures and early closes from the holidays package."""
    nyse = nyse_class()
    full = nyse(years=year, language="en_US")
    categories = getattr(nyse, "supported_categories", ())
    if "half_day" in categories:
        half = nyse(years=year, language="en_US", categories=("half_day",))
        early = {day: _close_time(name) for day, name in half.items()}
    else:  # pragma: no cover - only with holidays versions older than the one installed here
        early = rule_half_days(year)
    closures = {day: f"NYSE holiday: {name}" for day, name in full.items()}
    return _Year(closures, {d: t for d, t in early.items() if d not in closures})


class MarketCalendar:
    """NYSE sessions. Holiday lookups are cached per year and sessions per day: the policy asks
    about the same few days at every write (and the simulator thousands of times)."""

    def __init__(self, extra_closures: Iterable[dt.date] = ()) -> None:
        self.extra_closures = frozenset(extra_closures)
        self._years: dict[int, _Year] = {}
        self._sessions: dict[dt.date, Session | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> MarketCalendar:
        return cls(settings.extra_closures)

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            cached = self._years[year] = _nyse_year(year)
        return cached

    def closure_reason(self, day: dt.date) -> str | None:
        """Why the market is closed all day (weekend, holiday, extra closure), or None."""
        if day.weekday() >= SATURDAY:
            return "weekend"
        if day in self.extra_closures:
            return "extra closure (config)"
        return self._year(day.year).closures.get(day)

    def session(self, day: dt.date) -> Session | None:
        """The session of ``day``, or None when the market is closed all day."""
        if isinstance(day, dt.datetime):
            raise TypeError("session() takes a date; use session_at() for an instant")
        if day not in self._sessions:
            self._sessions[day] = self._new_session(day)
        return self._sessions[day]

    def _new_session(self, day: dt.date) -> Session | None:
        if self.closure_reason(day) is not None:
            return None
        early = self._year(day.year).early_closes.get(day)
        close = early or REGULAR_CLOSE
        return Session(
            date=day,
            open=NY.localize(dt.datetime.combine(day, REGULAR_OPEN)),
            close=NY.localize(dt.datetime.combine(day, close)),
            half_day=early is not None,
        )

    def session_at(self, at: dt.datetime) -> Session | None:
        """The session of the New York calendar day that contains ``at`` (aware)."""
        return self.session(to_ny(at).date())

    def is_open(self, at: dt.datetime) -> bool:
        """True when ``at`` (aware, any zone) falls in a session: open <= at < close."""
        session = self.session_at(at)
        return session is not None and session.contains(at)

    def sessions(self, start: dt.date, count: int) -> list[Session]:
        """The next ``count`` trading sessions from ``start`` (inclusive)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        found: list[Session] = []
        day = start
        while len(found) < count:
            session = self.session(day)
            if session is not None:
                found.append(session)
            day += dt.timedelta(days=1)
        return found

    def sessions_between(self, start: dt.date, end: dt.date) -> list[Session]:
        """Every trading session from ``start`` to ``end``, both inclusive."""
        days = (start + dt.timedelta(days=n) for n in range((end - start).days + 1))
        return [s for s in map(self.session, days) if s is not None]


def to_ny(at: dt.datetime) -> dt.datetime:
    """``at`` in America/New_York. A naive datetime is refused: its zone would be a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("an aware datetime is needed (naive times have no zone)")
    return at.astimezone(NY)
