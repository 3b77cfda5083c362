"""The NYSE calendar: weekends, holidays, half days, DST, boundaries, session ranges."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import holidays
import pytest
import pytz

from llmcache_cli import market
from llmcache_cli.config import Settings
from llmcache_cli.market import NY, MarketCalendar, Session, rule_half_days

D = dt.date
UTC = pytz.utc


def ny(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return NY.localize(dt.datetime(year, month, day, hour, minute, second))


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def cal() -> MarketCalendar:
    return MarketCalendar()


def test_regular_day_session(cal: MarketCalendar) -> None:
    session = cal.session(D(2024, 7, 10))
    assert session == Session(D(2024, 7, 10), ny(2024, 7, 10, 9, 30), ny(2024, 7, 10, 16), False)
    assert session.open.utcoffset() == dt.timedelta(hours=-4)


@pytest.mark.parametrize("day", [D(2024, 7, 6), D(2024, 7, 7), D(2025, 3, 1), D(2025, 3, 2)])
def test_weekends_are_closed(cal: MarketCalendar, day: dt.date) -> None:
    assert cal.session(day) is None
    assert cal.closure_reason(day) == "weekend"


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (D(2024, 1, 1), "New Year"),
        (D(2024, 1, 15), "Martin Luther King"),
        (D(2024, 3, 29), "Good Friday"),
        (D(2024, 6, 19), "Juneteenth"),
        (D(2024, 7, 4), "Independence Day"),
        (D(2024, 11, 28), "Thanksgiving"),
        (D(2024, 12, 25), "Christmas"),
        (D(2026, 7, 3), "Independence Day"),  # July 4 is a Saturday: observed on Friday
        (D(2021, 12, 24), "Christmas"),  # Christmas on a Saturday: observed on Friday
    ],
)
def test_nyse_holidays_are_closed(cal: MarketCalendar, day: dt.date, name: str) -> None:
    assert cal.session(day) is None
    reason = cal.closure_reason(day)
    assert reason is not None and reason.startswith("NYSE holiday") and name in reason


def test_good_friday_is_not_a_federal_holiday_but_nyse_closes(cal: MarketCalendar) -> None:
    # The Thursday before and the Monday after trade normally.
    assert cal.session(D(2024, 3, 28)) is not None and cal.session(D(2024, 4, 1)) is not None


def test_extra_closures_close_an_otherwise_normal_day() -> None:
    day = D(2024, 6, 12)  # a plain Wednesday
    assert MarketCalendar().session(day) is not None
    closed = MarketCalendar(extra_closures=[day, D(2025, 1, 9)])
    assert closed.session(day) is None
    assert closed.closure_reason(day) == "extra closure (config)"
    assert closed.session(D(2025, 1, 9)) is None  # national day of mourning (Carter)
    assert not closed.is_open(ny(2024, 6, 12, 11))
    assert closed.session(D(2024, 6, 13)) is not None


def test_from_settings_uses_extra_closures() -> None:
    calendar = MarketCalendar.from_settings(Settings(extra_closures=frozenset({D(2024, 6, 12)})))
    assert calendar.session(D(2024, 6, 12)) is None
    assert MarketCalendar.from_settings(Settings()).session(D(2024, 6, 12)) is not None


HALF_DAYS = [
    D(2023, 7, 3),  # Monday, July 4 on Tuesday
    D(2023, 11, 24),
    D(2024, 7, 3),
    D(2024, 11, 29),
    D(2024, 12, 24),
    D(2025, 7, 3),
    D(2025, 11, 28),
    D(2025, 12, 24),
    D(2026, 11, 27),
    D(2026, 12, 24),
]


@pytest.mark.parametrize("day", HALF_DAYS)
def test_half_days_close_at_13(cal: MarketCalendar, day: dt.date) -> None:
    session = cal.session(day)
    assert session is not None and session.half_day
    assert session.close == NY.localize(dt.datetime.combine(day, dt.time(13, 0)))
    assert session.open == NY.localize(dt.datetime.combine(day, dt.time(9, 30)))


@pytest.mark.parametrize(
    "day", [D(2022, 7, 1), D(2022, 12, 23), D(2024, 7, 5), D(2024, 12, 23), D(2024, 12, 26)]
)
def test_days_around_holidays_that_are_full_days(cal: MarketCalendar, day: dt.date) -> None:
    session = cal.session(day)
    assert session is not None and not session.half_day
    assert session.close.time() == dt.time(16, 0)


def test_half_day_rule_on_known_dates() -> None:
    assert set(rule_half_days(2024)) == {D(2024, 7, 3), D(2024, 11, 29), D(2024, 12, 24)}
    assert set(rule_half_days(2023)) == {D(2023, 7, 3), D(2023, 11, 24)}  # Dec 24 is a Sunday
    assert set(rule_half_days(2022)) == {D(2022, 11, 25)}  # July 1 is not one; Dec 24 a Saturday
    assert set(rule_half_days(2026)) == {D(2026, 11, 27), D(2026, 12, 24)}  # July 3 is a holiday
    assert set(rule_half_days(2024).values()) == {dt.time(13, 0)}


@pytest.mark.skipif(
    "half_day" not in getattr(holidays.NYSE, "supported_categories", ()),
    reason="this holidays version has no NYSE half days to compare the rule with",
)
def test_half_day_rule_agrees_with_the_holidays_package() -> None:
    for year in range(2004, 2041):
        package = holidays.financial_holidays("NYSE", years=year, categories=("half_day",))
        assert set(rule_half_days(year)) == set(package), year


def test_dst_spring_forward_monday(cal: MarketCalendar) -> None:
    # Clocks changed on Sunday 2024-03-10: 9:30 was 14:30 UTC on Friday, 13:30 UTC on Monday.
    friday, monday = cal.session(D(2024, 3, 8)), cal.session(D(2024, 3, 11))
    assert friday is not None and monday is not None
    assert friday.open.astimezone(UTC) == utc(2024, 3, 8, 14, 30)
    assert monday.open.astimezone(UTC) == utc(2024, 3, 11, 13, 30)
    assert monday.close.astimezone(UTC) == utc(2024, 3, 11, 20, 0)
    assert cal.is_open(utc(2024, 3, 11, 13, 30)) and not cal.is_open(utc(2024, 3, 11, 13, 29, 59))
    assert not cal.is_open(utc(2024, 3, 8, 14, 29, 59)) and cal.is_open(utc(2024, 3, 8, 14, 30))


def test_dst_fall_back_monday(cal: MarketCalendar) -> None:
    # Clocks changed on Sunday 2024-11-03: 9:30 was 13:30 UTC on Friday, 14:30 UTC on Monday.
    friday, monday = cal.session(D(2024, 11, 1)), cal.session(D(2024, 11, 4))
    assert friday is not None and monday is not None
    assert friday.open.astimezone(UTC) == utc(2024, 11, 1, 13, 30)
    assert monday.open.astimezone(UTC) == utc(2024, 11, 4, 14, 30)
    assert monday.close.astimezone(UTC) == utc(2024, 11, 4, 21, 0)
    assert not cal.is_open(utc(2024, 11, 4, 13, 30)) and cal.is_open(utc(2024, 11, 4, 14, 30))
    assert cal.is_open(utc(2024, 11, 4, 20, 59, 59)) and not cal.is_open(utc(2024, 11, 4, 21, 0))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (ny(2024, 7, 10, 9, 29, 59), False),
        (ny(2024, 7, 10, 9, 30), True),
        (ny(2024, 7, 10, 15, 59, 59), True),
        (ny(2024, 7, 10, 16, 0), False),
        (ny(2024, 7, 10, 0, 0), False),
        (ny(2024, 7, 3, 12, 59), True),  # half day
        (ny(2024, 7, 3, 12, 59, 59), True),
        (ny(2024, 7, 3, 13, 0), False),
        (ny(2024, 7, 3, 15, 0), False),
        (ny(2024, 7, 4, 11, 0), False),  # holiday
        (ny(2024, 7, 6, 11, 0), False),  # Saturday
    ],
)
def test_is_open_boundaries(cal: MarketCalendar, at: dt.datetime, expected: bool) -> None:
    assert cal.is_open(at) is expected


def test_is_open_converts_other_zones(cal: MarketCalendar) -> None:
    tokyo = pytz.timezone("Asia/Tokyo")
    # 23:00 Tokyo on July 10 = 10:00 New York on July 10.
    assert cal.is_open(tokyo.localize(dt.datetime(2024, 7, 10, 23, 0)))
    # 02:00 UTC on July 5 is still July 4 (a holiday) in New York, at 22:00.
    assert not cal.is_open(utc(2024, 7, 5, 2, 0))
    session = cal.session_at(utc(2024, 7, 5, 2, 0))
    assert session is None
    assert cal.session_at(utc(2024, 7, 5, 14, 0)) == cal.session(D(2024, 7, 5))


def test_naive_datetime_is_refused(cal: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        cal.is_open(dt.datetime(2024, 7, 10, 11, 0))
    with pytest.raises(TypeError):
        cal.session(dt.datetime(2024, 7, 10, 11, 0))  # type: ignore[arg-type]


def test_sessions_skip_holidays_and_weekends(cal: MarketCalendar) -> None:
    days = [s.date for s in cal.sessions(D(2024, 7, 3), 3)]
    assert days == [D(2024, 7, 3), D(2024, 7, 5), D(2024, 7, 8)]
    assert [s.date for s in cal.sessions(D(2024, 3, 28), 2)] == [D(2024, 3, 28), D(2024, 4, 1)]
    assert [s.date for s in cal.sessions(D(2024, 7, 6), 1)] == [D(2024, 7, 8)]  # from a Saturday
    assert cal.sessions(D(2024, 7, 3), 0) == []
    with pytest.raises(ValueError):
        cal.sessions(D(2024, 7, 3), -1)


def test_sessions_between_is_inclusive(cal: MarketCalendar) -> None:
    sessions = cal.sessions_between(D(2024, 12, 23), D(2024, 12, 27))
    assert [(s.date.day, s.half_day) for s in sessions] == [(23, False), (24, True), (26, False), (27, False)]
    assert cal.sessions_between(D(2024, 12, 27), D(2024, 12, 23)) == []
    assert [s.date for s in cal.sessions_between(D(2024, 7, 5), D(2024, 7, 5))] == [D(2024, 7, 5)]


def test_a_year_of_sessions(cal: MarketCalendar) -> None:
    # NYSE traded 252 days in 2024, three of them half days.
    sessions = cal.sessions_between(D(2024, 1, 1), D(2024, 12, 31))
    assert len(sessions) == 252
    assert [s.date for s in sessions if s.half_day] == [D(2024, 7, 3), D(2024, 11, 29), D(2024, 12, 24)]
    assert cal.sessions(D(2024, 1, 1), 252) == sessions


def test_holiday_lookups_are_cached_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    years: list[int] = []
    real = market._nyse_year

    def counting(year: int) -> object:
        years.append(year)
        return real(year)

    monkeypatch.setattr(market, "_nyse_year", counting)
    calendar = MarketCalendar()
    sessions = calendar.sessions(D(2020, 1, 2), 500)
    assert sessions[0].date == D(2020, 1, 2) and sessions[-1].date.year == 2021
    assert calendar.sessions_between(D(2020, 6, 1), D(2021, 6, 1))
    assert sorted(years) == [2020, 2021]


def test_the_nyse_calendar_is_the_packages() -> None:
    """market.nyse_class() is the holidays package's public NYSE calendar: the same holidays,
    closures and early closes as ``holidays.financial_holidays("NYSE")``."""
    assert market.nyse_class() is holidays.NYSE
    for year in (1900, 1929, 1963, 2001, 2012, 2018, 2024, 2025, 2026, 2050, 2200):
        got = market._nyse_year(year)
        full = holidays.financial_holidays("NYSE", years=year, language="en_US")
        assert dict(got.closures) == {day: f"NYSE holiday: {name}" for day, name in full.items()}, year
        half = holidays.financial_holidays("NYSE", years=year, language="en_US", categories=("half_day",))
        assert set(got.early_closes) == set(half) - set(full), year


def test_new_york_is_pytz_own_zone() -> None:
    assert NY is pytz.timezone("America/New_York")
    assert ny(2025, 6, 2, 9, 30) == utc(2025, 6, 2, 13, 30)
    assert ny(2025, 1, 2, 9, 30) == utc(2025, 1, 2, 14, 30)


def test_importing_the_calendar_loads_no_holidays() -> None:
    """Start-up: importing the calendar imports no holidays package; the first session asked
    for loads it (through its public name)."""
    code = (
        "import sys, datetime as dt\n"
        "from llmcache_cli.market import MarketCalendar\n"
        "assert 'holidays' not in sys.modules\n"
        "assert MarketCalendar().session(dt.date(2025, 7, 4)) is None\n"
        "print('holidays' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
