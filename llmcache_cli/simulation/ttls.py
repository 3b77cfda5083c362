"""Per-session TTL tables from the library's TTL policy: the closed form the fast engines use.

A policy is evaluated at the moment an entry is written. The library's policies give one TTL
while a session is open and one while the market is closed, per data type and symbol; so the
fast engines ask the policy once per (data type, symbol class, session, open/closed) instead of
once per write: at the session's open (market open) and at its close (market closed, the gap
that follows). Symbols whose TTLs agree at the first session's open and close share a class
(under ``market-aware``: volatile or not). The equivalence tests check these tables against
the reference engine, which calls ``policy.ttl`` at every write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmcache_cli.simulation.cache_rule import expires_at
from llmcache_cli.simulation.workload import Grid
from llmcache_cli.ttl_policy import TTLPolicy


@dataclass(frozen=True)
class TTLTable:
    """TTL seconds for writes while each session is open, and in the closed gap after it."""

    open_s: np.ndarray  # int64 [sessions]
    closed_s: np.ndarray  # int64 [sessions]

    def expiry_ms(self, grid: Grid, latency_ms: int) -> np.ndarray:
        """For each request instant: when the entry written by a miss there would expire."""
        write = grid.times_ms + latency_ms
        session = grid.session_of
        is_open = write < grid.close_ms[session]
        ttl = np.where(is_open, self.open_s[session], self.closed_s[session])
        return expires_at(write, ttl)

    @property
    def shortest_s(self) -> int:
        return int(min(self.open_s.min(), self.closed_s.min()))


@dataclass(frozen=True)
class TypeTTLs:
    """The TTL classes of one data type: ``class_of[k]`` for the k-th symbol."""

    data_type: str
    class_of: np.ndarray  # int32 [symbols]
    tables: tuple[TTLTable, ...]


def type_ttls(policy: TTLPolicy, data_type: str, symbols: Sequence[str], grid: Grid) -> TypeTTLs:
    first = grid.sessions[0]
    classes: dict[tuple[int, int], int] = {}
    representatives: list[str] = []
    class_of = np.empty(len(symbols), dtype=np.int32)
    for k, symbol in enumerate(symbols):
        signature = (
            policy.ttl(data_type, symbol, first.open),
            policy.ttl(data_type, symbol, first.close),
        )
        if signature not in classes:
            classes[signature] = len(classes)
            representatives.append(symbol)
        class_of[k] = classes[signature]
    tables = tuple(
        TTLTable(
            np.array([policy.ttl(data_type, rep, s.open) for s in grid.sessions], dtype=np.int64),
            np.array([policy.ttl(data_type, rep, s.close) for s in grid.sessions], dtype=np.int64),
        )
        for rep in representatives
    )
    return TypeTTLs(data_type, class_of, tables)
