"""Load (issue 8): many coroutines through ``@cached`` on a real Redis, scaled down from the
benchmark (benchmarks/bench_load.py: 1,000 x 100) so that it runs in every ``make test``.

It proves: no request fails or gets another key's answer; each distinct key costs exactly one
LLM call however many coroutines ask at once (stampede protection); the client never holds more
connections than its pool bound (seen by the server, in CLIENT LIST); none is left after
``aclose()``. Wall-clock figures are recorded by the benchmark, not asserted here.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_load import plan, run_load
from tests.reliability.conftest import Servers

pytestmark = pytest.mark.redis

COROUTINES, REQUESTS, KEYS = 200, 20, 400


def test_concurrent_callers_bounded_pool_no_errors_no_leak(servers: Servers) -> None:
    """200 coroutines x 20 requests (hits, misses, shared misses) through a pool of 8."""
    max_connections = 8
    server = servers.start()
    result = run_load(
        server.url,
        coroutines=COROUTINES,
        requests=REQUESTS,
        keys=KEYS,
        llm_ms=5,
        max_connections=max_connections,
    )
    distinct = {request for mine in plan(COROUTINES, REQUESTS, KEYS, seed=1) for request in mine}
    assert result.errors == 0 and result.cache_errors == 0 and result.breaker_opened == 0
    assert result.hits + result.misses == COROUTINES * REQUESTS
    assert result.llm_calls == len(distinct)  # one LLM call per distinct key, never more
    assert result.samples >= 3  # CLIENT LIST was sampled during the run
    assert 1 <= result.peak_clients <= max_connections
    assert result.clients_after_close == 0
    assert server.admin().dbsize() > len(distinct)  # answers stored (plus counters and indexes)
