"""The request grid, the input model, the significance rule and the scenario parsers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from llmcache_cli.errors import UsageError
from llmcache_cli.market import MarketCalendar
from llmcache_cli.simulation import scenario as sc
from llmcache_cli.simulation.inputs import InputModel, changed
from llmcache_cli.simulation.workload import build_grid, from_epoch_ms

CALENDAR = MarketCalendar()


def test_cycles_start_at_the_open_and_stop_before_the_close() -> None:
    grid = build_grid(CALENDAR, dt.date(2024, 7, 2), 2, 900)  # Tuesday, then the July 3 half day
    assert grid.cycles().tolist() == [26, 14]
    first_day = [from_epoch_ms(t).strftime("%H:%M") for t in grid.times_ms[:26].tolist()]
    assert first_day[0] == "13:30" and first_day[-1] == "19:45"  # 9:30 and 15:45 EDT
    assert build_grid(CALENDAR, dt.date(2024, 7, 2), 1, 7 * 3600).cycles().tolist() == [1]
    assert build_grid(CALENDAR, dt.date(2024, 7, 2), 1, 23_400).cycles().tolist() == [1]
    assert build_grid(CALENDAR, dt.date(2024, 7, 2), 1, 23_399).cycles().tolist() == [2]


def test_the_open_follows_daylight_saving_time() -> None:
    grid = build_grid(CALENDAR, dt.date(2025, 3, 7), 2, 23_400)  # Friday, then Monday after DST
    assert [from_epoch_ms(t).strftime("%a %H:%M") for t in grid.times_ms.tolist()] == [
        "Fri 14:30",
        "Mon 13:30",
    ]


def test_inputs_depend_on_seed_and_symbol_only() -> None:
    grid = build_grid(CALENDAR, dt.date(2024, 11, 25), 4, 900)
    model = InputModel(grid, seed=7, volatile=frozenset({"TSLA"}))
    one = model.arrays(["AAPL", "TSLA"])
    other = model.arrays(["TSLA", "MSFT", "AAPL"])
    assert np.array_equal(one.price[0], other.price[2]) and np.array_equal(one.news[1], other.news[0])
    again = InputModel(grid, seed=7, volatile=frozenset({"TSLA"})).arrays(["AAPL"])
    assert np.array_equal(again.price[0], one.price[0])
    assert not np.array_equal(InputModel(grid, seed=8).arrays(["AAPL"]).price[0], one.price[0])
    assert (one.price > 0).all()
    assert (np.diff(one.news, axis=1) >= 0).all() and (np.diff(one.earnings, axis=1) >= 0).all()


def test_earnings_are_released_once_a_quarter_before_an_open() -> None:
    grid = build_grid(CALENDAR, dt.date(2024, 1, 2), 252, 3600)
    arrays = InputModel(grid, seed=1).arrays(["AAPL", "MSFT", "KO"])
    for row in range(3):
        steps = np.flatnonzero(np.diff(arrays.earnings[row]))
        assert 3 <= steps.size <= 4
        assert (grid.session_of[steps + 1] != grid.session_of[steps]).all()  # only between sessions
        assert (np.diff(arrays.earnings[row])[steps] == 1).all()


def test_volatile_symbols_move_more() -> None:
    grid = build_grid(CALENDAR, dt.date(2024, 1, 2), 60, 900)
    arrays = InputModel(grid, seed=3, volatile=frozenset(sc.KNOWN_SYMBOLS[:20])).arrays(sc.KNOWN_SYMBOLS[:40])
    moves = np.abs(np.diff(np.log(arrays.price), axis=1)).mean(axis=1)
    assert moves[:20].mean() > 1.8 * moves[20:].mean()


def test_significance_is_the_libraries_rule() -> None:
    base = {"price": 100.0, "news": 3, "earnings": 1}
    assert not changed(base, {**base, "price": 101.0}, "technical")  # exactly 1 %: not more
    assert changed(base, {**base, "price": 101.01}, "technical")
    assert changed(base, {**base, "price": 98.9}, "market")
    assert not changed(base, {**base, "news": 4}, "technical")  # technical reads the price only
    assert changed(base, {**base, "news": 4}, "sentiment")
    assert changed(base, {**base, "earnings": 2}, "fundamental")
    assert changed(base, {**base, "earnings": 2}, "analysis")


def test_symbols_count_or_list() -> None:
    assert sc.parse_symbols("3") == ("AAPL", "MSFT", "NVDA")
    many = sc.parse_symbols("500")
    assert len(set(many)) == 500 and many[:100] == sc.KNOWN_SYMBOLS
    assert sc.parse_symbols(" AAPL, BRK.B ") == ("AAPL", "BRK.B")
    assert sc.default_scenario().symbols == sc.KNOWN_SYMBOLS[:50]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: sc.parse_symbols("0"), "greater than zero"),
        (lambda: sc.parse_symbols("-3"), "greater than zero"),
        (lambda: sc.parse_symbols("AAPL,,MSFT"), "non-empty"),
        (lambda: sc.parse_symbols("AAPL,AAPL"), "twice"),
        (lambda: sc.parse_symbols("A:B"), "':'"),
        (lambda: sc.parse_data_types("analysis,bogus"), "bogus"),
        (lambda: sc.parse_interval("0"), "longer than zero"),
        (lambda: sc.parse_interval("-5m"), "positive"),
        (lambda: sc.parse_date("2025-13-01"), "not a date"),
        (lambda: sc.Scenario(symbols=("AAPL",), days=0), "greater than zero"),
        (lambda: sc.Scenario(symbols=("AAPL",), key_strategy="bogus"), "key strategy"),
        (lambda: sc.Scenario(symbols=("AAPL",), policy="bogus"), "policy"),
        (lambda: sc.Scenario(symbols=("AAPL",), policy="by-type", flat_ttl_seconds=60), "--ttl"),
        (lambda: sc.Scenario(symbols=("AAPL",), llm_latency_ms=-1), "latency"),
        (lambda: sc.Scenario(symbols=("AAPL",), seed=-1), "seed"),
    ],
)
def test_bad_values_are_usage_errors(call, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as info:
        call()
    assert words in info.value.one_line()
