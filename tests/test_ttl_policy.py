"""TTL policies: every table by hand, volatile symbols, max_ttl, make_policy, explain."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from llmcache_cli.config import DATA_TYPES, Settings, settings_from_mapping
from llmcache_cli.errors import UsageError
from llmcache_cli.market import NY, MarketCalendar
from llmcache_cli.ttl_policy import (
    ByTypePolicy,
    FlatPolicy,
    MarketAwarePolicy,
    explain,
    make_policy,
)

OPEN = NY.localize(dt.datetime(2024, 7, 10, 11, 0))  # Wednesday, mid-session
AFTER_CLOSE = NY.localize(dt.datetime(2024, 7, 10, 17, 0))
SATURDAY = NY.localize(dt.datetime(2024, 7, 13, 11, 0))
HOLIDAY = NY.localize(dt.datetime(2024, 7, 4, 11, 0))
HALF_DAY_AFTERNOON = NY.localize(dt.datetime(2024, 7, 3, 14, 0))

BY_TYPE = {
    "fundamental": 86400,
    "sentiment": 3600,
    "technical": 900,
    "earnings": 604800,
    "market": 1800,
    "historical": 2592000,
    "analysis": 3600,
}
MARKET_OPEN = {**BY_TYPE, "fundamental": 3600, "sentiment": 900, "technical": 300}
MARKET_CLOSED = {**BY_TYPE, "fundamental": 86400, "sentiment": 3600, "technical": 1800}
MARKET_OPEN_VOLATILE = {
    "fundamental": 1800,
    "sentiment": 450,
    "technical": 150,
    "earnings": 302400,
    "market": 900,
    "historical": 1296000,
    "analysis": 1800,
}


@pytest.fixture(scope="module")
def calendar() -> MarketCalendar:
    return MarketCalendar()


def table(policy: Any, symbol: str | None, at: dt.datetime) -> dict[str, int]:
    return {t: policy.ttl(t, symbol, at) for t in DATA_TYPES}


def test_flat_policy() -> None:
    policy = make_policy(Settings(), "flat")
    assert isinstance(policy, FlatPolicy) and policy.name == "flat"
    assert table(policy, "AAPL", OPEN) == dict.fromkeys(DATA_TYPES, 3600)
    assert table(policy, "TSLA", AFTER_CLOSE) == dict.fromkeys(DATA_TYPES, 3600)  # no halving
    assert policy.max_ttl("technical", "TSLA") == 3600
    assert make_policy(Settings(), "flat", flat_seconds=60).ttl("nosuch", None, OPEN) == 60


def test_flat_seconds_from_config() -> None:
    settings = settings_from_mapping({"ttl": {"policy": "flat", "flat_seconds": 120}})
    assert make_policy(settings).ttl("analysis", None, OPEN) == 120


def test_by_type_policy() -> None:
    policy = make_policy(Settings(), "by-type")
    assert isinstance(policy, ByTypePolicy) and policy.name == "by-type"
    for at in (OPEN, AFTER_CLOSE, SATURDAY):
        assert table(policy, None, at) == BY_TYPE
    assert table(policy, "TSLA", OPEN) == BY_TYPE  # only market-aware halves volatile symbols
    assert policy.ttl("unknown-namespace", "AAPL", OPEN) == 3600  # counts as analysis
    assert {t: policy.max_ttl(t) for t in DATA_TYPES} == BY_TYPE


def test_market_aware_is_the_default(calendar: MarketCalendar) -> None:
    policy = make_policy(Settings(), calendar=calendar)
    assert isinstance(policy, MarketAwarePolicy) and policy.name == "market-aware"
    assert policy.calendar is calendar


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (OPEN, MARKET_OPEN),
        (AFTER_CLOSE, MARKET_CLOSED),
        (SATURDAY, MARKET_CLOSED),
        (HOLIDAY, MARKET_CLOSED),
        (HALF_DAY_AFTERNOON, MARKET_CLOSED),  # 14:00 on a 13:00-close day
        (NY.localize(dt.datetime(2024, 7, 3, 12, 59)), MARKET_OPEN),
    ],
)
def test_market_aware_tables(calendar: MarketCalendar, at: dt.datetime, expected: dict[str, int]) -> None:
    policy = make_policy(Settings(), "market-aware", calendar=calendar)
    assert table(policy, "AAPL", at) == expected
    assert table(policy, None, at) == expected


def test_market_aware_halves_volatile_symbols(calendar: MarketCalendar) -> None:
    policy = make_policy(Settings(), "market-aware", calendar=calendar)
    assert table(policy, "TSLA", OPEN) == MARKET_OPEN_VOLATILE
    assert table(policy, "GME", AFTER_CLOSE)["technical"] == 900
    assert table(policy, "AMC", AFTER_CLOSE)["fundamental"] == 43200
    assert table(policy, "tsla", OPEN) == MARKET_OPEN  # symbols are case-sensitive


def test_market_aware_max_ttl(calendar: MarketCalendar) -> None:
    policy = make_policy(Settings(), "market-aware", calendar=calendar)
    assert {t: policy.max_ttl(t) for t in DATA_TYPES} == MARKET_CLOSED
    assert policy.max_ttl("technical", "AAPL") == 1800
    assert policy.max_ttl("technical", "TSLA") == 900
    assert policy.max_ttl("nosuch") == 3600


def test_unknown_data_type_counts_as_analysis(calendar: MarketCalendar) -> None:
    policy = make_policy(Settings(), calendar=calendar)
    assert policy.ttl("llm-summary", "TSLA", OPEN) == 1800
    assert policy.ttl("llm-summary", "AAPL", AFTER_CLOSE) == 3600


def test_config_overrides_and_factor_rounding(calendar: MarketCalendar) -> None:
    settings = settings_from_mapping(
        {
            "ttl": {
                "by_type": {"market": 601, "analysis": 1},
                "market_open": {"technical": 120},
                "volatile_symbols": ["NVDA"],
                "volatile_factor": 0.3,
            }
        }
    )
    policy = make_policy(settings, calendar=calendar)
    assert policy.ttl("technical", "AAPL", OPEN) == 120
    assert policy.ttl("technical", "AAPL", AFTER_CLOSE) == 1800
    assert policy.ttl("market", "AAPL", OPEN) == 601  # no market-specific entry: base table
    assert policy.ttl("market", "AAPL", AFTER_CLOSE) == 601
    assert policy.ttl("sentiment", "NVDA", OPEN) == 270  # 900 * 0.3
    assert policy.ttl("market", "NVDA", OPEN) == 180  # 601 * 0.3 = 180.3, rounded down
    assert policy.ttl("analysis", "NVDA", OPEN) == 1  # 0.3 s would be 0: at least 1
    assert policy.ttl("technical", "TSLA", OPEN) == 120  # no longer volatile
    assert policy.max_ttl("market", "NVDA") == 180


def test_extra_closure_gives_closed_ttls() -> None:
    settings = Settings(extra_closures=frozenset({dt.date(2024, 7, 10)}))
    policy = make_policy(settings)  # builds its calendar from the settings
    assert table(policy, "AAPL", OPEN) == MARKET_CLOSED


def test_naive_write_time_is_refused(calendar: MarketCalendar) -> None:
    policy = make_policy(Settings(), calendar=calendar)
    with pytest.raises(ValueError):
        policy.ttl("analysis", "AAPL", dt.datetime(2024, 7, 10, 11, 0))


def test_policy_from_settings_name() -> None:
    assert isinstance(make_policy(settings_from_mapping({"ttl": {"policy": "by-type"}})), ByTypePolicy)
    assert isinstance(make_policy(settings_from_mapping({"ttl": {"policy": "flat"}})), FlatPolicy)


@pytest.mark.parametrize("name", ["", "nosuch", "market_aware", "FLAT"])
def test_unknown_policy_lists_known_ones(name: str) -> None:
    with pytest.raises(UsageError) as info:
        make_policy(Settings(), name)
    assert "flat, by-type, market-aware" in info.value.one_line()


def test_flat_seconds_selects_flat_and_conflicts_with_other_policies() -> None:
    assert make_policy(Settings(), flat_seconds=42).ttl("technical", "TSLA", OPEN) == 42
    with pytest.raises(UsageError, match="market-aware"):
        make_policy(Settings(), "market-aware", flat_seconds=42)
    for bad in (0, -1):
        with pytest.raises(UsageError):
            make_policy(Settings(), flat_seconds=bad)


def test_policies_are_frozen(calendar: MarketCalendar) -> None:
    policy = make_policy(Settings(), calendar=calendar)
    assert isinstance(policy, MarketAwarePolicy)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.volatile_factor = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.when_open["technical"] = 1  # type: ignore[index]
    with pytest.raises(ValueError):
        FlatPolicy(0)
    with pytest.raises(ValueError):
        ByTypePolicy({"technical": 900})  # no analysis fallback


def test_explain_reports_market_state_and_ttls(calendar: MarketCalendar) -> None:
    policy = make_policy(Settings(), calendar=calendar)
    report = explain(Settings(), policy, calendar, HALF_DAY_AFTERNOON.astimezone(dt.timezone.utc), "TSLA")
    assert report.at == HALF_DAY_AFTERNOON and report.at.tzinfo is not None
    assert report.at.utcoffset() == dt.timedelta(hours=-4)
    assert (report.policy, report.symbol, report.volatile, report.volatile_factor) == (
        "market-aware",
        "TSLA",
        True,
        0.5,
    )
    assert report.market_open is False
    assert report.session is not None and report.session.half_day and report.closure is None
    assert report.ttl_seconds["technical"] == 900
    assert list(report.ttl_seconds) == list(DATA_TYPES)


def test_explain_closed_day_and_non_halving_policy(calendar: MarketCalendar) -> None:
    by_type = make_policy(Settings(), "by-type")
    report = explain(Settings(), by_type, calendar, HOLIDAY, "GME")
    assert report.session is None and report.closure == "NYSE holiday: Independence Day"
    assert report.volatile is True and report.volatile_factor == 1.0
    assert dict(report.ttl_seconds) == BY_TYPE
