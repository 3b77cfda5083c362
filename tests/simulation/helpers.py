"""Shared helpers: build a scenario's context and run both engines on it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from llmcache_cli.config import Settings
from llmcache_cli.simulation.fast_plan import fast_unsupported
from llmcache_cli.simulation.prepare import SimContext, build_context
from llmcache_cli.simulation.reference_engine import run_reference
from llmcache_cli.simulation.run import run_fast
from llmcache_cli.simulation.scenario import Scenario
from llmcache_cli.simulation.tally import Tally

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
