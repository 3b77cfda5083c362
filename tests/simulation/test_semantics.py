"""Cases worked out by hand from the cache rule (reference_engine's docstring), checked on both engines.

Cycles of a full session at 15 min: 9:30, 9:45, ..., 15:45 (26). An answer is written at
request time + LLM latency with the TTL the policy gives at that write time, and serves every
request with ``written <= t <= written + TTL``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from llmcache_cli.market import NY
from llmcache_cli.simulation.workload import epoch_ms
from tests.simulation.helpers import both, hits_misses


def _missed_cycles(tally) -> list[int]:  # type: ignore[no-untyped-def]
    return np.flatnonzero(tally.misses.sum(axis=0)).tolist()


@pytest.mark.parametrize(
    ("ttl", "latency_ms", "hits", "missed"),
    [
        # shorter than the interval: every request calls the LLM
        (600, 500, 0, list(range(26))),
        # equal: written at t+0.5 s, expires t+900.5 s, so the next cycle (t+900 s) hits
        (900, 500, 13, list(range(0, 26, 2))),
        # equal, no latency: expires exactly at the next cycle; Redis still serves it then
        (900, 0, 13, list(range(0, 26, 2))),
        # one second shorter, no latency: expired one second before the next cycle
        (899, 0, 0, list(range(26))),
        # the same TTL, but the answer lands 1 s later: expires exactly at the next cycle
        (899, 1000, 13, list(range(0, 26, 2))),
        # longer (the seed's 1 h): written at 0.5 s, serves 15, 30, 45 and 60 min; 75 min misses
        (3600, 500, 20, [0, 5, 10, 15, 20, 25]),
    ],
)
def test_flat_ttl_against_the_interval(ttl: int, latency_ms: int, hits: int, missed: list[int]) -> None:
    for tally in both(flat_ttl_seconds=ttl, llm_latency_ms=latency_ms):
        assert hits_misses(tally) == (hits, 26 - hits)
        assert _missed_cycles(tally) == missed


def test_requests_before_the_answer_lands_miss_and_overwrite() -> None:
    """Every second, the LLM takes 2.5 s: requests at 0, 1 and 2 s all miss (nothing written
    yet); the answer written at 2.5 s serves 3 s; the last write (4.5 s, from the 2 s miss)
    overwrote the entry with a fresh hour, so hits run to 3604 s and 3605 s misses again:
    a period of 3605 s with 3 misses, 7 periods in the 23400 s session."""
    for tally in both(interval_seconds=1, llm_latency_ms=2500, flat_ttl_seconds=3600):
        assert hits_misses(tally) == (23400 - 21, 21)
        expected = [start + k for start in range(0, 23400, 3605) for k in range(3)]
        assert _missed_cycles(tally) == expected


def test_ttl_is_the_policy_at_write_time_across_the_close() -> None:
    """market-aware, fundamental: 1 h while open, 1 day while closed. Hourly cycles 9:30-15:30
    and a 45 min LLM: 9:30 misses (written 10:15, until 11:15), 10:30 hits, 11:30 misses, 12:30
    hits, 13:30 misses, 14:30 hits, 15:30 misses and its answer lands at 16:15, market closed:
    it lives a day, so all of Tuesday hits."""
    for tally in both(
        data_types=("fundamental",),
        policy="market-aware",
        interval_seconds=3600,
        days=2,
        llm_latency_ms=45 * 60_000,
    ):
        per_request = tally.misses.sum(axis=0).tolist()
        assert per_request == [1, 0, 1, 0, 1, 0, 1] + [0] * 7
        # The end is when the last answer lands (Tuesday 16:15); Monday's 16:15 answer
        # expires exactly then, and an entry is still served at its expiry instant.
        assert len(tally.live) == 1
        entry = tally.live[0]
        assert entry.key == "fundamental:stock:AAPL:v1"
        assert entry.expires_ms - entry.written_ms == 86_400_000
        assert entry.expires_ms == tally.end_ms == epoch_ms(NY.localize(dt.datetime(2025, 6, 3, 16, 15)))


def test_flat_day_long_ttl_spans_the_night() -> None:
    """24 h from Monday 9:30:00.5 still covers Tuesday 9:30, not 9:45."""
    for tally in both(flat_ttl_seconds=86_400, days=2):
        per_request = tally.misses.sum(axis=0).tolist()
        assert per_request == [1] + [0] * 25 + [0, 1] + [0] * 24


def test_a_week_with_a_holiday_and_a_half_day() -> None:
    """Thanksgiving week 2024: Thursday closed, Friday closes at 13:00 (14 cycles)."""
    for tally in both(start=dt.date(2024, 11, 25), days=4, flat_ttl_seconds=3600):
        assert [d.isoformat() for d in tally.days] == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29"]
        per_day = np.bincount(tally.slot_day, weights=tally.misses.sum(axis=0)).tolist()
        requests = np.bincount(tally.slot_day, weights=tally.requests.sum(axis=0)).tolist()
        assert requests == [26, 26, 26, 14]
        assert per_day == [6, 6, 6, 3]


def test_volatile_symbols_get_half_the_ttl_under_market_aware() -> None:
    """sentiment while open: 900 s, TSLA 450 s. At 5 min cycles (78 a day) AAPL misses every
    fourth request (written t+0.5 s, lives to t+900.5 s), TSLA every second (to t+450.5 s)."""
    for tally in both(
        symbols=("AAPL", "TSLA"), data_types=("sentiment",), policy="market-aware", interval_seconds=300
    ):
        assert hits_misses(tally) == (58 + 39, 20 + 39)
