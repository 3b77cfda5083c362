"""Everything an engine needs for one scenario, built once: calendar, policy, grid, inputs."""

from __future__ import annotations

from dataclasses import dataclass

from llmcache_cli.config import Settings
from llmcache_cli.market import MarketCalendar
from llmcache_cli.policy import TTLPolicy, make_policy
from llmcache_cli.simulation.inputs import InputModel
from llmcache_cli.simulation.scenario import Scenario
from llmcache_cli.simulation.tally import Tally
from llmcache_cli.simulation.workload import Grid, build_grid


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
