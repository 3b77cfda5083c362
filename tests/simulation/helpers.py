"""Shared helpers: build a scenario's context and run both engines on it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from llmcache_cli.config import Settings
from llmcache_cli.simulation.fast_plan import fast_unsupported
from llmcache_cli.simulation.prepare import SimContext, build_context
from llmcache_cli.simulation.reference_engine import run_reference
from llmcache_cli.simulation.run import run_fast
from llmcache_cli.simulation.scenario import Scenario
from llmcache_cli.simulation.tally import EndEntry, Tally

SETTINGS = Settings()
MONDAY = dt.date(2025, 6, 2)  # a full session, 9:30-16:00 EDT


def context(**kwargs: Any) -> SimContext:
    kwargs.setdefault("symbols", ("AAPL",))
    kwargs.setdefault("start", MONDAY)
    return build_context(Scenario(**kwargs), SETTINGS)


def both(**kwargs: Any) -> tuple[Tally, Tally]:
    """The reference and the fast engine's tallies for one scenario (the fast one must apply)."""
    ctx = context(**kwargs)
    assert fast_unsupported(ctx) is None
    return run_reference(ctx), run_fast(ctx)


def hits_misses(tally: Tally) -> tuple[int, int]:
    misses = int(tally.misses.sum())
    return int(tally.requests.sum()) - misses, misses


def same_counts(one: Tally, other: Tally) -> bool:
    """Exact equality of everything an engine decides (for the equivalence tests)."""
    stale_equal = (one.stale is None and other.stale is None) or (
        one.stale is not None and other.stale is not None and np.array_equal(one.stale, other.stale)
    )

    def order(entry: EndEntry) -> tuple[str, int]:
        return (entry.key, entry.written_ms)

    return (
        one.data_types == other.data_types
        and np.array_equal(one.requests, other.requests)
        and np.array_equal(one.misses, other.misses)
        and stale_equal
        and one.end_ms == other.end_ms
        and sorted(one.live, key=order) == sorted(other.live, key=order)
    )
