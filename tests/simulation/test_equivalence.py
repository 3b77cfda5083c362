"""Every fast path agrees exactly with the reference engine on randomised workloads.

Exactly: misses and stale hits per data type and request instant, and the end state (keys,
write and expiry times, inputs). The workloads are drawn from fixed seeds, so a failure
reproduces; they cover every key strategy and policy, volatile symbols, DST changes, holidays,
half days, the turn of a year, no LLM latency and latencies longer than the interval.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from llmcache_cli.config import DATA_TYPES
from llmcache_cli.simulation.fast_plan import fast_unsupported
from llmcache_cli.simulation.prepare import build_context
from llmcache_cli.simulation.reference_engine import run_reference
from llmcache_cli.simulation.run import run_engine, run_fast
from llmcache_cli.simulation.scenario import KEY_STRATEGIES, Scenario
from tests.simulation.helpers import SETTINGS, same_counts

SYMBOLS = ("AAPL", "TSLA", "GME", "BRK.B", "MSFT", "NVDA", "JPM")
STARTS = (
    dt.date(2024, 3, 7),  # DST starts on Sunday the 10th
    dt.date(2024, 7, 2),  # July 3 closes at 13:00, July 4 closed
    dt.date(2024, 11, 26),  # Thanksgiving, then a half day
    dt.date(2023, 12, 28),  # New Year
    dt.date(2025, 6, 2),
    dt.date(2024, 10, 31),  # DST ends on Sunday November 3
)
INTERVALS = (60, 300, 420, 900, 1800, 3600, 5400)
MAX_REQUESTS = 2500


def random_scenario(seed: int) -> dict[str, Any]:
    rnd = random.Random(seed)
    interval = rnd.choice(INTERVALS)
    days = rnd.randint(1, 3)
    cycles = days * (23_400 // interval + 1)
    symbols = rnd.sample(SYMBOLS, rnd.randint(1, 4))
    types = rnd.sample(DATA_TYPES, rnd.randint(1, 3))
    while len(symbols) * len(types) * cycles > MAX_REQUESTS and (len(symbols) > 1 or len(types) > 1):
        (symbols if len(symbols) > 1 else types).pop()
    if len(symbols) * len(types) * cycles > MAX_REQUESTS:
        days = 1
    strategy = KEY_STRATEGIES[seed % len(KEY_STRATEGIES)]
    policy = rnd.choice(("flat", "by-type", "market-aware"))
    latency = rnd.choice((0, 500, 1500, 250_000 if strategy in ("symbol", "time-bucket") else 500))
    return {
        "symbols": tuple(symbols),
        "data_types": tuple(types),
        "interval_seconds": interval,
        "days": days,
        "start": rnd.choice(STARTS),
        "policy": policy,
        "flat_ttl_seconds": rnd.choice((300, 900, 3600, 7200, 86_400)) if policy == "flat" else None,
        "key_strategy": strategy,
        "llm_latency_ms": latency,
        "seed": rnd.randrange(2**32),
    }


@pytest.mark.parametrize("seed", range(48))
def test_fast_engine_matches_the_reference(seed: int) -> None:
    ctx = build_context(Scenario(**random_scenario(seed)), SETTINGS)
    reason = fast_unsupported(ctx)
    if reason is not None:  # e.g. a 5 min TTL with a 250 s LLM latency: the reference runs
        _, engine = run_engine(ctx, "auto")
        assert engine == "reference"
        return
    reference, fast = run_reference(ctx), run_fast(ctx)
    assert same_counts(reference, fast), ctx.scenario
    assert int(reference.misses.sum()) > 0
    if ctx.scenario.key_strategy in ("conditional", "data-hash"):
        assert reference.stale is not None and int(reference.stale.sum()) == 0


def test_the_random_workloads_do_exercise_stale_hits_and_live_entries() -> None:
    """Guard against a vacuous equivalence test: stale hits, bursts and end states occur."""
    stale = live = bursts = 0
    for seed in range(0, 48, 4):  # the symbol strategy's cases
        ctx = build_context(Scenario(**random_scenario(seed)), SETTINGS)
        if fast_unsupported(ctx) is not None:
            continue
        tally = run_fast(ctx)
        assert tally.stale is not None
        stale += int(tally.stale.sum())
        live += len(tally.live)
        gap = ctx.grid.min_gap_ms()
        bursts += gap is not None and ctx.scenario.llm_latency_ms >= gap
    assert stale > 0 and live > 0 and bursts > 0


def test_auto_uses_the_reference_when_answers_are_still_in_flight_under_conditional() -> None:
    scenario = Scenario(
        symbols=("AAPL",), interval_seconds=60, key_strategy="conditional", llm_latency_ms=90_000
    )
    ctx = build_context(scenario, SETTINGS)
    assert fast_unsupported(ctx) is not None
    assert run_engine(ctx, "auto")[1] == "reference"
