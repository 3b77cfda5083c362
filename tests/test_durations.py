"""Parsing durations and instants typed by users."""

from __future__ import annotations

import datetime as dt

import pytest

from llmcache_cli.durations import format_duration, parse_duration, parse_instant
from llmcache_cli.errors import EXIT_USAGE, UsageError
from llmcache_cli.limits import MAX_TTL_SECONDS
from llmcache_cli.market import NY


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1m", 60),
        ("1h", 3600),
        ("2d", 172800),
        ("1w", 604800),
        ("3600", 3600),
        ("1h30m", 5400),
        ("1d2h3m4s", 93784),
        (" 15M ", 900),
        ("1h 30m", 5400),
        ("3650d", MAX_TTL_SECONDS),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0",
        "0s",
        "0h0m",
        "-5",
        "-5m",
        "abc",
        "15x",
        "1.5h",
        "m",
        "h1",
        "10y",
        "3651d",
        "²",
        "9" * 100,
    ],
)
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_duration(text, what="--interval")
    assert info.value.exit_code == EXIT_USAGE
    assert "--interval" in info.value.one_line() and "\n" not in info.value.one_line()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (900, "15m"), (5400, "1h30m"), (86400, "1d"), (93784, "1d2h3m4s")],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    if seconds:
        assert parse_duration(text) == seconds


def test_naive_iso_time_is_new_york() -> None:
    summer = parse_instant("2024-07-03T10:00")
    assert summer == dt.datetime(2024, 7, 3, 14, 0, tzinfo=dt.timezone.utc)
    winter = parse_instant("2024-01-03 10:00")
    assert winter == dt.datetime(2024, 1, 3, 15, 0, tzinfo=dt.timezone.utc)
    assert summer.tzinfo is not None and summer.astimezone(NY).hour == 10


def test_offsets_and_z_are_kept() -> None:
    assert parse_instant("2024-07-03T14:00:00Z") == dt.datetime(2024, 7, 3, 14, tzinfo=dt.timezone.utc)
    at = parse_instant("2024-07-03T10:00:00-04:00")
    assert at.utcoffset() == dt.timedelta(hours=-4) and at.astimezone(NY).hour == 10


def test_date_only_is_midnight_in_new_york() -> None:
    assert parse_instant("2024-07-03") == NY.localize(dt.datetime(2024, 7, 3))


def test_now() -> None:
    fixed = dt.datetime(2024, 7, 3, 14, tzinfo=dt.timezone.utc)
    assert parse_instant("now", now=fixed) is fixed
    assert parse_instant(" NOW ", now=fixed) is fixed
    current = parse_instant("now")
    assert current.tzinfo is not None and current.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid"),
        ("yesterday", "invalid"),
        ("2024-13-01T10:00", "invalid"),
        ("2024-03-10T02:30", "does not exist"),  # spring forward: 2:00 jumps to 3:00
        ("2024-11-03T01:30", "happens twice"),  # fall back: 1:30 happens twice
    ],
)
def test_bad_instants_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_instant(text, what="--at")
    assert "--at" in info.value.one_line()


def test_dst_edge_times_with_an_offset_are_fine() -> None:
    first = parse_instant("2024-11-03T01:30-04:00")
    second = parse_instant("2024-11-03T01:30-05:00")
    assert second - first == dt.timedelta(hours=1)
