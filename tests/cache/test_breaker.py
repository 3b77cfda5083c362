"""The circuit breaker's states, on a fake clock."""

from __future__ import annotations

import pytest

from llmcache_cli.cache import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(3, 10.0, clock=Clock())
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_success()  # a success in between resets the count
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure(timed_out=True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure(timed_out=True)
    assert breaker.state is BreakerState.OPEN
    assert [breaker.allow() for _ in range(5)] == [False] * 5
    assert breaker.stats.rejected == 5 and breaker.stats.timeouts == 3 and breaker.stats.opened == 1


def test_half_open_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    breaker.allow()
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for its answer
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.stats.opened == 2
    clock.now += 10.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(3))
    assert breaker.stats.probes == 2


def test_cancelled_probe_lets_another_probe_go() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.allow()
    breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_cancelled()
    assert breaker.allow()


@pytest.mark.parametrize("threshold, reset", [(0, 1.0), (1, 0.0)])
def test_rejects_bad_parameters(threshold: int, reset: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold, reset)
