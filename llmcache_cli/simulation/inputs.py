"""The modelled inputs a trading bot feeds the LLM, so that freshness can be measured.

Per symbol, deterministic for (seed, symbol) whatever else is simulated with it:

- **price**: a random walk in log price (no drift) at the symbol's own annual volatility
  (log-normal around 28 %, 2.5x for the configured volatile symbols), in trading time: an
  overnight gap counts as ``OVERNIGHT_SECONDS`` of trading; plus a jump (sd 4 %) at the first
  request after each earnings release.
- **news**: items arrive as a Poisson process in wall-clock time (log-normal around 2 a day per
  symbol, 3x for volatile ones); the input carries how many have arrived.
- **earnings**: one release a quarter, at 08:00 New York 21 + k days after the quarter begins
  (k in 0..34, fixed per symbol), so before that day's open; the input carries how many.

What each data type reads (``FIELDS``), and what counts as a significant change
(``thresholds_for``, checked with the library's ``changed_significantly``): the price moving by
more than 1 % of the price the answer was made from, any new news item, any new earnings
release. The ``data-hash`` key hashes the price on a 0.5 % grid (``price_level``; a bot rounds
its inputs so a cent's move does not change the prompt), the news count and the earnings count.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from llmcache_cli.keys import input_hash
from llmcache_cli.market import NY
from llmcache_cli.simulation.workload import Grid, epoch_ms

PRICE_MOVE = 0.01  # a relative price move above this is significant
PRICE_LEVEL_STEP = 0.005  # the data-hash key's price grid
FIELDS: Mapping[str, tuple[str, ...]] = {
    "technical": ("price",),
    "market": ("price",),
    "sentiment": ("news",),
    "fundamental": ("earnings",),
    "earnings": ("earnings",),
    "historical": ("earnings",),
    "analysis": ("price", "news", "earnings"),
}
TRADING_SECONDS_PER_YEAR = 252 * 23_400
OVERNIGHT_SECONDS = 5_850  # an overnight gap moves the price like a quarter of a session
VOLATILE_VOL_FACTOR = 2.5
VOLATILE_NEWS_FACTOR = 3.0
EARNINGS_JUMP_SD = 0.04
EARNINGS_HOUR = 8
# What the fast engines compute in numpy: Threshold.relative's own rule, "more than" with its
# tolerance. The equivalence tests check it against changed_significantly.
PRICE_LIMIT = PRICE_MOVE + 1e-9


if TYPE_CHECKING:
    from llmcache_cli.cache.conditional import Threshold


@functools.cache
def thresholds_for(data_type: str) -> dict[str, Threshold]:
    """The library's thresholds for what ``data_type`` reads (imported late: the library pulls
    in redis.asyncio, which the fast engines do not need)."""
    from llmcache_cli.cache.conditional import Threshold

    every = {
        "price": Threshold.relative(PRICE_MOVE),
        "news": Threshold.points(0),
        "earnings": Threshold.points(0),
    }
    return {name: every[name] for name in FIELDS[data_type]}


def changed(old: Mapping[str, Any], new: Mapping[str, Any], data_type: str) -> bool:
    """The one rule: did the inputs ``data_type`` reads change significantly?"""
    from llmcache_cli.cache.conditional import changed_significantly

    return bool(changed_significantly(old, new, thresholds_for(data_type)))


@dataclass
class InputArrays:
    """Inputs of some symbols at every grid instant, rows in the order asked for."""

    symbols: tuple[str, ...]
    price: np.ndarray  # float64 [S, n]
    news: np.ndarray  # int32 [S, n]
    earnings: np.ndarray  # int32 [S, n]
    _level: np.ndarray | None = field(default=None, repr=False)

    @property
    def level(self) -> np.ndarray:
        """The price on the 0.5 % grid, int32 [S, n]."""
        if self._level is None:
            self._level = np.floor(np.log(self.price) / math.log1p(PRICE_LEVEL_STEP)).astype(np.int32)
        return self._level

    def snapshot(self, row: int, i: int, data_type: str) -> dict[str, Any]:
        """What the answer is made from (stored in the entry's meta)."""
        values = {
            "price": float(self.price[row, i]),
            "news": int(self.news[row, i]),
            "earnings": int(self.earnings[row, i]),
        }
        return {name: values[name] for name in FIELDS[data_type]}

    def hash_payload(self, row: int, i: int, data_type: str) -> dict[str, Any]:
        """What the ``data-hash`` key hashes: the snapshot with the price on its grid."""
        values = {
            "price_level": int(self.level[row, i]),
            "news": int(self.news[row, i]),
            "earnings": int(self.earnings[row, i]),
        }
        names = ["price_level" if f == "price" else f for f in FIELDS[data_type]]
        return {name: values[name] for name in names}


class InputModel:
    def __init__(self, grid: Grid, seed: int, volatile: frozenset[str] = frozenset()) -> None:
        self.grid = grid
        self.seed = seed
        self.volatile = volatile
        times = grid.times_ms
        same_session = grid.session_of[1:] == grid.session_of[:-1]
        gap_seconds = np.where(same_session, np.diff(times) / 1000.0, OVERNIGHT_SECONDS)
        self._step_scale = np.sqrt(gap_seconds / TRADING_SECONDS_PER_YEAR)
        first = grid.sessions[0].date
        last = grid.sessions[-1].date
        self._quarters = [
            dt.date(year, month, 1)
            for year in range(first.year - 1, last.year + 1)
            for month in (1, 4, 7, 10)
        ]
        self._releases: dict[int, np.ndarray] = {}

    def arrays(self, symbols: Sequence[str]) -> InputArrays:
        n = self.grid.size
        price = np.empty((len(symbols), n), dtype=np.float64)
        news = np.empty((len(symbols), n), dtype=np.int32)
        earnings = np.empty((len(symbols), n), dtype=np.int32)
        for row, symbol in enumerate(symbols):
            self._fill(symbol, price[row], news[row], earnings[row])
        return InputArrays(tuple(symbols), price, news, earnings)

    def _rng(self, symbol: str) -> np.random.Generator:
        digest = int(input_hash(symbol), 16)
        return np.random.default_rng([self.seed, digest & 0xFFFFFFFF, digest >> 32])

    def _fill(self, symbol: str, price: np.ndarray, news: np.ndarray, earnings: np.ndarray) -> None:
        rng = self._rng(symbol)
        volatile = symbol in self.volatile
        vol = min(1.5, max(0.08, math.exp(rng.normal(math.log(0.28), 0.35))))
        vol *= VOLATILE_VOL_FACTOR if volatile else 1.0
        news_per_day = math.exp(rng.normal(math.log(2.0), 0.5))
        news_per_day *= VOLATILE_NEWS_FACTOR if volatile else 1.0
        start_price = math.exp(rng.uniform(math.log(20.0), math.log(500.0)))
        offset_days = int(rng.integers(0, 35))
        jumps = rng.normal(0.0, EARNINGS_JUMP_SD, size=len(self._quarters))

        grid = self.grid
        times = grid.times_ms
        releases = self._release_times(offset_days)
        per_session = np.searchsorted(releases, grid.open_ms, side="right").astype(np.int32)
        earnings[:] = per_session[grid.session_of]

        steps = np.empty(times.size, dtype=np.float64)
        steps[0] = math.log(start_price)
        steps[1:] = vol * self._step_scale * rng.standard_normal(times.size - 1)
        released = np.diff(earnings, prepend=earnings[0])
        where = np.flatnonzero(released)
        if where.size:
            # The jump of the latest release seen at that instant.
            steps[where] += jumps[earnings[where] - 1]
        np.cumsum(steps, out=steps)
        np.exp(steps, out=price)

        span_days = (int(times[-1]) - int(times[0])) / 86_400_000
        arrivals = self._arrivals(rng, news_per_day, span_days)
        at = int(times[0]) + np.round(arrivals * 86_400_000).astype(np.int64)
        counts = np.bincount(np.searchsorted(times, at, side="left"), minlength=times.size + 1)
        news[:] = np.cumsum(counts[: times.size])

    def _release_times(self, offset_days: int) -> np.ndarray:
        """Earnings release instants (epoch ms), one a quarter, for a symbol's ``offset_days``
        (shared by the symbols with the same offset: localizing is the slow part)."""
        found = self._releases.get(offset_days)
        if found is None:
            at = dt.time(EARNINGS_HOUR)
            days = [q + dt.timedelta(days=21 + offset_days) for q in self._quarters]
            local = [NY.localize(dt.datetime.combine(d, at)) for d in days]
            found = np.array([epoch_ms(t) for t in local], dtype=np.int64)
            self._releases[offset_days] = found
        return found

    @staticmethod
    def _arrivals(rng: np.random.Generator, per_day: float, span_days: float) -> np.ndarray:
        """Arrival times (days after the first request) in (0, span], a Poisson process."""
        out: list[np.ndarray] = []
        last = 0.0
        batch = max(16, int(per_day * span_days * 1.2) + 16)
        while last <= span_days:
            gaps = rng.exponential(1.0 / per_day, size=batch)
            chunk = last + np.cumsum(gaps)
            out.append(chunk)
            last = float(chunk[-1])
        arrivals = np.concatenate(out)
        return arrivals[(arrivals > 0) & (arrivals <= span_days)]
