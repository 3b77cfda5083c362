"""The operator reports on a real Redis Cluster: every primary scanned, figures summed."""

from __future__ import annotations

import pytest

from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.config import Settings
from llmcache_cli.diagnostics.dashboard import collect_stats
from llmcache_cli.diagnostics.entry_inspect import read_entry
from llmcache_cli.diagnostics.key_sizes import find_large_keys
from llmcache_cli.diagnostics.ttl_audit import inspect_ttls
from llmcache_cli.keys import stats_key
from llmcache_cli.ttl_policy import make_policy
from tests.diagnostics.mixed import envelope

pytestmark = pytest.mark.cluster


def test_reports_cover_every_primary(cluster_url: str) -> None:
    with connect(ClientOptions.from_flags(cluster_url, 3.0)) as handle:
        client = handle.client
        for i in range(400):
            client.set(f"analysis:stock:S{i}:v1", envelope(10 + i), ex=None if i % 8 == 0 else 600)
        client.hset(stats_key("analysis"), mapping={"hits": 3, "misses": 1})
        sizes = {
            f"analysis:stock:S{i}:v1": client.memory_usage(f"analysis:stock:S{i}:v1") for i in range(400)
        }

        stats = collect_stats(handle, full=True)
        assert stats.keyspace.keys == 401 and stats.keyspace.keys_with_ttl == 350
        assert len(stats.nodes) == 3 and all(n.keys > 0 for n in stats.nodes)
        assert stats.llm.total.hit_rate == 0.75 and stats.breakdown.scanned == 401

        large = find_large_keys(handle, top=5)
        assert large.scanned == 401
        assert [k.bytes for k in large.keys] == sorted(sizes.values(), reverse=True)[:5]
        assert all(k.ttl_seconds == 600 or k.ttl_seconds is None for k in large.keys)

        report = inspect_ttls(handle, make_policy(Settings(), "by-type"), symbol="S7")
        assert report.scanned == 1
        whole = inspect_ttls(handle, make_policy(Settings()))
        assert whole.no_ttl == 50 and whole.bookkeeping.no_ttl == 1  # 50 entries; the counter hash
        # the same reports with each primary's pages read by a script (Redis 6.2 has no EVAL_RO)
        inside = inspect_ttls(handle, make_policy(Settings()), in_server=True)
        assert inside.method in ("script", "pipeline") and whole.method == "pipeline"
        assert (inside.buckets, inside.no_ttl_keys, inside.data_types) == (
            whole.buckets,
            whole.no_ttl_keys,
            whole.data_types,
        )
        scripted = collect_stats(handle, full=True, in_server=True)
        assert scripted.breakdown.namespaces == stats.breakdown.namespaces

        view = read_entry(handle, "analysis:stock:S3:v1")
        assert view.kind == "envelope" and view.memory_bytes == sizes["analysis:stock:S3:v1"]
