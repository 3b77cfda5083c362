"""The dashboard's JSON fields and Prometheus exposition, from a real report."""

from __future__ import annotations

import re

import pytest
import redis

from llmcache_cli.client import RedisHandle
from llmcache_cli.diagnostics.stats import collect_stats
from llmcache_cli.diagnostics.stats_output import as_json, prometheus
from llmcache_cli.keys import stats_key
from tests.diagnostics.mixed import Mixed

pytestmark = pytest.mark.redis

SAMPLE_LINE = re.compile(r'^(llmcache_[a-z_]+)(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+)$')


def test_json_has_the_spec_fields(handle: RedisHandle, mixed: Mixed) -> None:
    data = as_json(collect_stats(handle))
    for field in ("keys", "keys_with_ttl", "hits", "misses", "hit_rate", "evicted_keys", "expired_keys"):
        assert field in data["keyspace"]
    assert {"used_memory_bytes", "maxmemory_policy"} <= set(data["server"])
    assert {"hits", "misses", "hit_rate", "cost_spent_usd", "cost_saved_usd", "time_saved_ms"} <= set(
        data["llm"]
    )
    assert isinstance(data["namespaces"], list) and isinstance(data["warnings"], list)
    assert data["llm"]["hit_rate"] == pytest.approx(70 / 104)
    assert {"namespace", "keys", "memory_bytes", "no_ttl_pct"} <= set(data["namespaces"][0])


def test_prometheus_exposition(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    real_redis.hset(stats_key('we"ird\\ns'), mapping={"hits": 1})
    text = prometheus(collect_stats(handle))
    assert text.endswith("\n")
    names = set()
    for line in text.splitlines():
        if line.startswith("# "):
            kind, name = line.split()[1:3]
            assert kind in ("HELP", "TYPE") and name.startswith("llmcache_")
            continue
        match = SAMPLE_LINE.match(line)
        assert match, line
        names.add(match.group(1))
    assert {"llmcache_keys", "llmcache_keys_with_ttl", "llmcache_llm_hits_total", "llmcache_warning"} <= names
    assert f"llmcache_keys {real_redis.dbsize()}" in text.splitlines()
    assert "llmcache_keyspace_hit_rate" not in names  # no lookups before the report: no rate, not NaN
    assert 'llmcache_llm_hits_total{namespace="we\\"ird\\\\ns"} 1' in text
    assert (
        'llmcache_warning{code="no_maxmemory"} 1' in text and 'llmcache_warning{code="evictions"} 0' in text
    )
