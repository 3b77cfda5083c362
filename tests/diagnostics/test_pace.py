"""--pace: the scan sleeps so the server CPU it costs stays at the target share; the reports
are the same as unpaced; the share achieved is reported."""

from __future__ import annotations

import pytest
import redis

from llmcache_cli.cli.render.large_keys_view import as_json
from llmcache_cli.client import RedisHandle
from llmcache_cli.config import Settings
from llmcache_cli.diagnostics.dashboard import collect_stats
from llmcache_cli.diagnostics.key_sizes import find_large_keys
from llmcache_cli.diagnostics.ttl_audit import inspect_ttls
from llmcache_cli.pace import Pacer
from llmcache_cli.ttl_policy import make_policy
from tests.diagnostics.conftest import fill_entries


class _Server:
    """INFO cpu of a server that has used ``cpu`` seconds (the test moves it on)."""

    def __init__(self) -> None:
        self.cpu = 10.0

    def info(self, section: str) -> dict[str, float]:
        assert section == "cpu"
        return {"used_cpu_user": self.cpu * 0.75, "used_cpu_sys": self.cpu * 0.25}


def test_pacer_sleeps_until_the_share_is_back_at_target() -> None:
    server = _Server()
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(server, 10.0, sleep=sleep, clock=lambda: now[0])
    now[0] += 0.1
    server.cpu += 0.05  # 50 ms of server CPU in 100 ms of wall time: 50%
    pacer(1000)
    assert slept == [pytest.approx(0.4)]  # 0.05 s is 10% of 0.5 s
    now[0] += 0.1
    pacer(1000)  # no more CPU used: nothing more to wait
    assert len(slept) == 1
    server.cpu += 0.001
    now[0] += 0.1
    pacer(1000)  # 51 ms in 600 ms: under 10%
    assert len(slept) == 1
    pacer.finish()
    assert pacer.used == pytest.approx(0.051) and pacer.wall == pytest.approx(0.7)


@pytest.mark.redis
def test_paced_reports_equal_unpaced(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill_entries(real_redis, 5_000, ex=3600)
    plain = find_large_keys(handle, top=5)
    paced = find_large_keys(handle, top=5, pace=2.0)
    assert paced.pace is not None and plain.pace is None
    assert [(k.key, k.bytes) for k in paced.keys] == [(k.key, k.bytes) for k in plain.keys]
    assert (paced.namespaces, paced.scanned) == (plain.namespaces, plain.scanned)
    assert paced.pace.server_cpu_seconds > 0 and paced.pace.achieved_pct is not None
    assert paced.pace.slept_seconds > 0  # 5,000 MEMORY USAGE cost the server more than 2% of a core
    assert as_json(paced)["pace"]["target_pct"] == 2.0
    policy = make_policy(Settings(), None)
    ttl = inspect_ttls(handle, policy, pace=10.0)
    assert ttl.pace is not None and ttl.scanned == 5_000
    stats = collect_stats(handle, full=True, pace=10.0)
    assert stats.pace is not None and stats.breakdown.scanned == 5_000
