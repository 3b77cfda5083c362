"""A circuit breaker, so that a dead or silent Redis costs a timeout a few times, not every call.

Closed: every call goes through. After ``failure_threshold`` consecutive connection failures or
timeouts it opens: calls are refused at once (the caller treats that as a cache miss) for
``reset_timeout`` seconds. Then it is half-open: exactly one call, the probe, goes through; if it
succeeds the breaker closes, if it fails it opens for another ``reset_timeout``.

Only failures that say "Redis is unreachable" count. A server that answers with an error (OOM,
WRONGTYPE, NOPERM) is alive: that answer resets the failure count like a success.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger("llmcache_cli.cache")


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class BreakerStats:
    """What the breaker did since it was made. ``timeouts`` counts the calls that waited for a
    timeout, the cost the breaker exists to bound."""

    allowed: int = 0
    rejected: int = 0
    failures: int = 0
    timeouts: int = 0
    opened: int = 0
    probes: int = 0


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        *,
        name: str = "redis",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if not reset_timeout > 0:
            raise ValueError("reset_timeout must be a positive number of seconds")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.name = name
        self.stats = BreakerStats()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def healthy(self) -> bool:
        """Closed, with no failure since the last success: worth sending optional work."""
        return self._state is BreakerState.CLOSED and self._consecutive == 0

    def allow(self) -> bool:
        """May a call go to Redis now? In half-open state only one caller gets True."""
        state = self.state
        if state is BreakerState.CLOSED:
            self.stats.allowed += 1
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_out:
            self._state = BreakerState.HALF_OPEN
            self._probe_out = True
            self.stats.allowed += 1
            self.stats.probes += 1
            return True
        self.stats.rejected += 1
        return False

    def record_success(self) -> None:
        """The call reached Redis (even if Redis answered with an error)."""
        if self._state is not BreakerState.CLOSED:
            log.warning("%s is answering again: cache enabled", self.name)
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._probe_out = False

    def record_failure(self, timed_out: bool = False) -> None:
        """The call could not reach Redis (refused, reset, timed out)."""
        self.stats.failures += 1
        if timed_out:
            self.stats.timeouts += 1
        self._consecutive += 1
        half_open = self._state is BreakerState.HALF_OPEN or self._probe_out
        if half_open or (self._state is BreakerState.CLOSED and self._consecutive >= self.failure_threshold):
            self._open()

    def record_skipped(self) -> None:
        """An allowed call gave up before reaching Redis (it queued behind a failed probe)."""
        self.stats.allowed -= 1
        self.stats.rejected += 1

    def record_cancelled(self) -> None:
        """The call was abandoned before it got an answer: neither proof of life nor of death."""
        if self._probe_out:
            self._probe_out = False
            self._state = BreakerState.OPEN
            self._opened_at = self._clock() - self.reset_timeout  # let the next call probe

    def _open(self) -> None:
        was_closed = self._state is BreakerState.CLOSED
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_out = False
        self.stats.opened += 1
        if was_closed:
            log.warning(
                "%s unreachable after %d consecutive failures: cache bypassed, retrying in %gs",
                self.name,
                self._consecutive,
                self.reset_timeout,
            )
