"""Everything an engine needs for one scenario, built once: calendar, policy, grid, inputs;
and the end-state entries the engines report, built the same way by each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmcache_cli.config import Settings
from llmcache_cli.market import MarketCalendar
from llmcache_cli.simulation.inputs import InputArrays, InputModel
from llmcache_cli.simulation.keying import entry_key
from llmcache_cli.simulation.scenario import Scenario
from llmcache_cli.simulation.tally import EndEntry, Tally
from llmcache_cli.simulation.workload import Grid, build_grid
from llmcache_cli.ttl_policy import TTLPolicy, make_policy


@dataclass(frozen=True)
class SimContext:
    scenario: Scenario
    settings: Settings
    calendar: MarketCalendar
    policy: TTLPolicy
    grid: Grid
    inputs: InputModel

    @property
    def version(self) -> str:
        return self.settings.cache_version

    def empty_tally(self) -> Tally:
        grid = self.grid
        tally = Tally.empty(
            self.scenario.data_types,
            grid.times_ms,
            grid.session_of,
            tuple(s.date for s in grid.sessions),
        )
        tally.requests[:] = len(self.scenario.symbols)
        return tally


def build_context(
    scenario: Scenario, settings: Settings, calendar: MarketCalendar | None = None
) -> SimContext:
    calendar = calendar if calendar is not None else MarketCalendar.from_settings(settings)
    policy = make_policy(settings, scenario.policy, calendar=calendar, flat_seconds=scenario.flat_ttl_seconds)
    grid = build_grid(calendar, scenario.start, scenario.days, scenario.interval_seconds)
    model = InputModel(grid, scenario.seed, settings.ttl.volatile_symbols)
    return SimContext(scenario, settings, calendar, policy, grid, model)


def row_chunks(count: int, grid_size: int, budget: int) -> list[range]:
    """Split ``count`` symbols so that each chunk's input arrays hold about ``budget`` values."""
    per_chunk = max(1, budget // max(1, grid_size))
    return [range(lo, min(count, lo + per_chunk)) for lo in range(0, count, per_chunk)]


def end_entry(
    ctx: SimContext,
    key: str,
    data_type: str,
    symbol: str | None,
    written_ms: int,
    expires_ms: int,
    inputs: dict[str, Any] | None,
) -> EndEntry:
    cost = ctx.scenario.cost
    return EndEntry(
        key=key,
        data_type=data_type,
        symbol=symbol,
        written_ms=written_ms,
        expires_ms=expires_ms,
        inputs=inputs,
        cost_usd=cost.per_call_usd,
        latency_ms=float(ctx.scenario.llm_latency_ms),
        model=cost.model,
        input_tokens=cost.input_tokens,
        output_tokens=cost.output_tokens,
    )


def grid_entry(
    ctx: SimContext,
    arrays: InputArrays,
    row: int,
    symbol: str,
    data_type: str,
    index: int,
    expires_ms: int,
) -> EndEntry:
    """The entry written by the miss of ``symbol`` (row ``row`` of ``arrays``) at grid instant
    ``index``, as the fast engines report it in the end state."""
    at = int(ctx.grid.times_ms[index])
    key = entry_key(ctx.scenario.key_strategy, data_type, symbol, ctx.version, arrays, row, index, at)
    snapshot = arrays.snapshot(row, index, data_type)
    return end_entry(ctx, key, data_type, symbol, at + ctx.scenario.llm_latency_ms, expires_ms, snapshot)
