"""What an engine hands back: counts per (data type, time slot), and the cache's end state.

Every engine (reference, fast, trace replay) fills the same ``Tally``, so that the results,
the breakdowns and the chart are computed once, and so that the tests can compare engines
exactly. A slot is a request instant of a generated grid, or an hour of a trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EndEntry:
    """One live cache entry when the simulation ends."""

    key: str
    data_type: str
    symbol: str | None
    written_ms: int  # when the answer landed (request time + LLM latency)
    expires_ms: int  # written_ms + TTL; live while now <= expires_ms
    inputs: dict[str, Any] | None  # what the answer was made from (generated workloads)
    cost_usd: float
    latency_ms: float
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def ttl_seconds(self) -> int:
        return (self.expires_ms - self.written_ms) // 1000


@dataclass
class Tally:
    """Counts per data type (rows, in ``data_types`` order) and slot (columns)."""

    data_types: tuple[str, ...]
    slot_ms: np.ndarray  # int64 [slots]: the slot's first instant
    slot_day: np.ndarray  # int32 [slots]: index into ``days``
    days: tuple[Any, ...]  # datetime.date per day index
    requests: np.ndarray  # int64 [D, slots]
    misses: np.ndarray  # int64 [D, slots]
    stale: np.ndarray | None  # int64 [D, slots]; None: unknown (a trace has no inputs)
    cost_without: np.ndarray  # float64 [D, slots]: every request at what it would cost
    cost_with: np.ndarray  # float64 [D, slots]: the LLM calls actually made
    end_ms: int = 0
    live: list[EndEntry] = field(default_factory=list)

    @classmethod
    def empty(
        cls,
        data_types: tuple[str, ...],
        slot_ms: np.ndarray,
        slot_day: np.ndarray,
        days: tuple[Any, ...],
        with_stale: bool = True,
    ) -> Tally:
        shape = (len(data_types), slot_ms.size)
        return cls(
            data_types=data_types,
            slot_ms=slot_ms,
            slot_day=slot_day,
            days=days,
            requests=np.zeros(shape, dtype=np.int64),
            misses=np.zeros(shape, dtype=np.int64),
            stale=np.zeros(shape, dtype=np.int64) if with_stale else None,
            cost_without=np.zeros(shape, dtype=np.float64),
            cost_with=np.zeros(shape, dtype=np.float64),
        )

    def price_flat(self, per_call_usd: float) -> None:
        """Costs of a generated workload: every call costs the same."""
        self.cost_without = self.requests * per_call_usd
        self.cost_with = self.misses * per_call_usd
