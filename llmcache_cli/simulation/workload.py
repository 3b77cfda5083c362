"""The request grid of a generated workload, on the virtual clock.

Trading sessions come from the library's market calendar (weekends and holidays skipped, half
days shorter). In each session a cycle starts at the open and then every ``interval`` while
strictly before the close (6.5 h at 15 min: 26 cycles; a 13:00 half day: 14). Every cycle sends
one request per symbol per data type, all at the cycle's instant. Times are integer
milliseconds since the epoch (Redis keeps expiry times in milliseconds too).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from llmcache_cli.errors import UsageError
from llmcache_cli.market import MarketCalendar, Session


def epoch_ms(at: dt.datetime) -> int:
    """Whole milliseconds since the epoch of an aware datetime."""
    whole = at.replace(microsecond=0)
    return int(whole.timestamp()) * 1000 + at.microsecond // 1000


def from_epoch_ms(ms: int) -> dt.datetime:
    """The UTC datetime of ``ms`` (exact to the millisecond)."""
    seconds, rest = divmod(int(ms), 1000)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc) + dt.timedelta(milliseconds=rest)


@dataclass(frozen=True)
class Grid:
    """Every request instant of a run (shared by all symbols and data types)."""

    sessions: tuple[Session, ...]
    open_ms: np.ndarray  # int64 [sessions]
    close_ms: np.ndarray  # int64 [sessions]
    times_ms: np.ndarray  # int64 [n], strictly increasing
    session_of: np.ndarray  # int32 [n]: index into sessions

    @property
    def size(self) -> int:
        return int(self.times_ms.size)

    @property
    def end_ms(self) -> int:
        """The close of the last session: when the end state is taken (see ``end_instant``)."""
        return int(self.close_ms[-1])

    def min_gap_ms(self) -> int | None:
        """The shortest time between two consecutive request instants (None for one instant)."""
        if self.size < 2:
            return None
        return int(np.diff(self.times_ms).min())

    def cycles(self) -> np.ndarray:
        """Request instants per session."""
        return np.bincount(self.session_of, minlength=len(self.sessions))


def build_grid(calendar: MarketCalendar, start: dt.date, days: int, interval_seconds: int) -> Grid:
    """``days`` trading sessions from ``start`` (inclusive), cycles every ``interval_seconds``."""
    try:
        sessions = tuple(calendar.sessions(start, days))
    except (OverflowError, ValueError) as exc:
        raise UsageError(f"cannot build {days} trading days from {start}: {exc}") from None
    opens = np.array([epoch_ms(s.open) for s in sessions], dtype=np.int64)
    closes = np.array([epoch_ms(s.close) for s in sessions], dtype=np.int64)
    step = interval_seconds * 1000
    counts = (closes - opens + step - 1) // step  # k with open + k*step < close
    session_of = np.repeat(np.arange(len(sessions), dtype=np.int32), counts)
    first = np.repeat(opens, counts)
    starts = np.cumsum(counts) - counts
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)
    times = first + within * step
    return Grid(sessions, opens, closes, times, session_of)


def end_instant(grid: Grid, llm_latency_ms: int) -> int:
    """When the end state is read: the last close, or the last answer's write if later."""
    return max(grid.end_ms, int(grid.times_ms[-1]) + llm_latency_ms)
