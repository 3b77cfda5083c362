"""The dashboard's JSON fields and Prometheus exposition, from a real report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from llmcache_cli.cli.render import stats_view as render_stats
from llmcache_cli.cli.render.stats_view import as_json, prometheus
from llmcache_cli.client import RedisHandle
from llmcache_cli.diagnostics import stats_metrics
from llmcache_cli.diagnostics.dashboard import collect_stats
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
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE_LINE.match(line), line
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(name.startswith("llmcache_") for name in families)
    for name in ("llm_hits", "keyspace_hits", "evicted_keys", "llm_cost_saved_usd", "node_keyspace_misses"):
        assert families[f"llmcache_{name}"].type == "counter"
    assert "# TYPE llmcache_llm_hits_total counter" in text
    assert families["llmcache_keys"].type == "gauge"
    assert families["llmcache_keys"].samples[0].value == real_redis.dbsize()
    assert "llmcache_keyspace_hit_rate" not in families  # no lookups before the report: no rate, not NaN
    hits = {s.labels["namespace"]: s.value for s in families["llmcache_llm_hits"].samples}
    assert hits['we"ird\\ns'] == 1
    warnings = {s.labels["code"]: s.value for s in families["llmcache_warning"].samples}
    assert warnings["no_maxmemory"] == 1 and warnings["evictions"] == 0


def test_no_exposition_text_is_written_by_hand() -> None:
    for module in (render_stats, stats_metrics):
        text = Path(str(module.__file__)).read_text()
        assert "# TYPE" not in text and "# HELP" not in text
