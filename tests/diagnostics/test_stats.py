"""The dashboard on the real server: INFO figures, LLM counters, the breakdown, warnings."""

from __future__ import annotations

import json

import pytest
import redis

from llmcache_cli.client import ClientOptions, RedisHandle, connect
from llmcache_cli.config import DATA_TYPES
from llmcache_cli.diagnostics import dashboard as stats_module
from llmcache_cli.diagnostics import own_reads
from llmcache_cli.diagnostics.common import INTERNAL_NAMESPACE
from llmcache_cli.diagnostics.dashboard import Breakdown, collect_stats, find_warnings
from llmcache_cli.diagnostics.entry_inspect import read_entry
from llmcache_cli.diagnostics.key_sizes import find_large_keys
from llmcache_cli.diagnostics.live_counters import LLMSummary, total_of
from llmcache_cli.diagnostics.serverinfo import KeyspaceFigures, NodeInfo, ServerFigures, UnreachableNode
from llmcache_cli.diagnostics.ttl_audit import inspect_ttls
from llmcache_cli.errors import LLMCacheError
from llmcache_cli.keys import stats_key
from llmcache_cli.ttl_policy import FlatPolicy
from tests.diagnostics.conftest import fill_entries, interrupt
from tests.diagnostics.mixed import Mixed

pytestmark = pytest.mark.redis


def test_keyspace_figures_are_exact(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    report = collect_stats(handle)
    info = real_redis.info()
    assert report.keyspace.keys == real_redis.dbsize() == mixed.keys
    assert report.keyspace.keys_with_ttl == info["db0"]["expires"] == mixed.keys - mixed.no_ttl
    assert report.keyspace.hit_rate is None  # stats were reset: no hits, no misses, no made-up rate
    assert report.server.version == info.get("valkey_version", info["redis_version"])
    assert report.server.nodes == 1
    assert report.server.maxmemory_policy == "noeviction"
    real_redis.get("analysis:stock:AAPL:v1")
    real_redis.get("missing")
    real_redis.get("missing:too")
    later = collect_stats(handle).keyspace
    assert (later.hits, later.misses) == (1, 2) and later.hit_rate == pytest.approx(1 / 3)


def test_own_lookups_stored_are_what_redis_counted(
    real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed
) -> None:
    collect_stats(handle)
    info = real_redis.info()  # INFO itself is no lookup
    stored = json.loads(own_reads.state_path().read_text())
    assert list(stored) == [info["run_id"]]
    mine = stored[info["run_id"]]
    assert (mine["hits"], mine["misses"]) == (info["keyspace_hits"], info["keyspace_misses"])
    assert mine["hits"] >= mixed.keys  # a PTTL per key
    assert handle.lookups == {}  # stored, so not counted twice


def test_stats_twice_on_an_idle_server_gives_the_same_figures(
    real_redis: redis.Redis, redis_url: str, mixed: Mixed
) -> None:
    """Separate runs (separate connections, as separate processes would be)."""
    real_redis.get("analysis:stock:AAPL:v1")  # one real hit and one real miss
    real_redis.get("missing")
    runs = []
    for _ in range(3):
        with connect(ClientOptions.from_flags(redis_url)) as h:
            report = collect_stats(h)
        runs.append(
            (report.keyspace.hits, report.keyspace.misses, report.nodes[0].hits, report.nodes[0].misses)
        )
    assert runs == [(1, 1, 1, 1)] * 3


def test_other_commands_reads_stay_out_of_stats(
    real_redis: redis.Redis, redis_url: str, handle: RedisHandle, mixed: Mixed
) -> None:
    before = collect_stats(handle).keyspace
    with connect(ClientOptions.from_flags(redis_url)) as h:
        inspect_ttls(h, FlatPolicy(3600))
        find_large_keys(h, top=5)
        read_entry(h, "analysis:stock:AAPL:v1")
        with pytest.raises(LLMCacheError):
            read_entry(h, "missing:key")
        own_reads.record(h)
    after = collect_stats(handle).keyspace
    assert (after.hits, after.misses) == (before.hits, before.misses)


def test_a_stats_reset_discards_what_was_stored(
    real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed
) -> None:
    collect_stats(handle)
    real_redis.config_resetstat()
    real_redis.get("analysis:stock:AAPL:v1")  # 1 hit, after the reset
    assert collect_stats(handle).keyspace.hits == 1
    assert collect_stats(handle).keyspace.hits == 1  # the stale figures are gone, not added to


def test_llm_counters(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    real_redis.set(stats_key("bogus"), "not a hash")
    real_redis.hset(stats_key("odd"), mapping={"hits": "many", "misses": "2"})
    llm = collect_stats(handle).llm
    rows = {row.namespace: row for row in llm.namespaces}
    assert set(rows) == {"analysis", "sentiment", "odd"} and llm.exact
    assert (rows["analysis"].hits, rows["analysis"].misses, rows["analysis"].hit_rate) == (70, 30, 0.7)
    assert rows["analysis"].cost_saved_usd == pytest.approx(0.7)
    assert rows["sentiment"].hit_rate == 0.0 and (rows["odd"].hits, rows["odd"].misses) == (0, 2)
    assert llm.total.hits == 70 and llm.total.misses == 36
    assert llm.total.cost_spent_usd == pytest.approx(0.34) and llm.total.time_saved_ms == pytest.approx(56000)


def test_no_lookups_means_no_hit_rate(handle: RedisHandle) -> None:
    report = collect_stats(handle)
    assert report.llm.total.hit_rate is None and report.llm.namespaces == ()


def test_full_breakdown_is_exact(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    report = collect_stats(handle, full=True)
    rows = {ns.namespace: ns for ns in report.breakdown.namespaces}
    assert report.breakdown.exact and report.breakdown.scanned == mixed.keys
    assert rows["technical"].keys == len(list(real_redis.scan_iter(match="technical:*")))
    sizes = sum(real_redis.memory_usage(k) for k in real_redis.scan_iter(match="chatbot:*"))
    assert rows["chatbot"].memory_bytes == sizes and rows["chatbot"].data_type is None  # not configured
    assert rows["chatbot"].kind == "other" and rows[INTERNAL_NAMESPACE].kind == "bookkeeping"
    configured = collect_stats(handle, full=True, cache_namespaces={"chatbot"}).breakdown.namespaces
    assert {ns.namespace: ns.data_type for ns in configured}["chatbot"] == "analysis"
    assert rows[INTERNAL_NAMESPACE].keys == 2 and rows[INTERNAL_NAMESPACE].no_ttl_keys == 2
    assert rows[INTERNAL_NAMESPACE].data_type is None
    no_ttl = [k for k in real_redis.scan_iter(match="analysis:*") if real_redis.ttl(k) == -1]
    assert rows["analysis"].no_ttl_keys == len(no_ttl)


def test_sample_is_extrapolated(real_redis: redis.Redis, handle: RedisHandle) -> None:
    pipe = real_redis.pipeline(transaction=False)
    for i in range(6000):
        pipe.set(f"{('analysis', 'sentiment')[i % 2]}:stock:S{i}:v1", "x" * 100, ex=600)
    pipe.hset(stats_key("analysis"), mapping={"hits": 5, "misses": 5})
    pipe.execute()
    report = collect_stats(handle, sample=500)
    assert not report.breakdown.exact and 500 <= report.breakdown.scanned < 1500
    estimated = sum(ns.keys for ns in report.breakdown.namespaces)
    assert abs(estimated - 6001) <= 5  # scaled to DBSIZE, up to rounding per namespace
    assert report.llm.total.hits == 5  # found by SCAN: the keyspace is small


def test_big_keyspace_looks_counters_up_by_name(
    real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats_module, "COUNTER_SCAN_MAX_KEYS", 10)  # as if it had millions of keys
    real_redis.hset(stats_key("chatbot"), mapping={"hits": 1})  # a namespace the keys show
    real_redis.hset(stats_key("nowhere"), mapping={"hits": 1000})  # a namespace without keys
    llm = collect_stats(handle, sample=200).llm
    assert not llm.exact
    assert {row.namespace for row in llm.namespaces} == {"analysis", "sentiment", "chatbot"}
    full = collect_stats(handle, full=True).llm
    assert full.exact and {row.namespace for row in full.namespaces} == {
        "analysis",
        "sentiment",
        "chatbot",
        "nowhere",
    }


def test_warnings_on_the_real_server(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    codes = {w.code for w in collect_stats(handle).warnings}
    assert codes == {"no_maxmemory", "eviction_policy", "keys_without_ttl"}
    real_redis.config_set("maxmemory", "1gb")
    real_redis.config_set("maxmemory-policy", "allkeys-lfu")
    leak = next(w for w in collect_stats(handle).warnings if w.code == "keys_without_ttl")
    cache_no_ttl = [
        k
        for k in real_redis.scan_iter(count=500)
        if real_redis.ttl(k) == -1 and k.split(b":")[0].decode() in DATA_TYPES
    ]
    # the counter hashes (bookkeeping) and keys of other namespaces are not the cache's leaks
    assert leak.message.startswith(f"{len(cache_no_ttl):,} entries have no TTL")
    assert 0 < len(cache_no_ttl) < mixed.no_ttl - 2
    for key in real_redis.scan_iter(count=500):
        if real_redis.ttl(key) == -1 and not key.startswith(b"llmcache:"):
            real_redis.expire(key, 100)
    assert collect_stats(handle).warnings == ()


def test_ctrl_c_during_full_scan(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill_entries(real_redis, 4000, ex=100)
    report = collect_stats(handle, full=True, on_progress=interrupt)
    assert report.partial and not report.breakdown.exact and 0 < report.breakdown.scanned < 4000
    assert report.keyspace.keys == 4000


SERVER = dict(
    product="redis",
    version="7.0.15",
    mode="standalone",
    nodes=1,
    uptime_seconds=10,
    used_memory_bytes=500 << 20,
    used_memory_peak_bytes=600 << 20,
    used_memory_rss_bytes=520 << 20,
    maxmemory_bytes=1 << 30,
    maxmemory_policy="allkeys-lru",
    mem_fragmentation_ratio=1.04,
    mem_fragmentation_bytes=20 << 20,
    connected_clients=3,
    ops_per_sec=100,
)


def server(**changes: object) -> ServerFigures:
    return ServerFigures(**{**SERVER, **changes})  # type: ignore[arg-type]


def keyspace(**changes: int) -> KeyspaceFigures:
    base = dict(keys=100, keys_with_ttl=100, hits=5, misses=5, evicted_keys=0, expired_keys=3)
    base.update(changes)
    return KeyspaceFigures(**base)


NO_BREAKDOWN = Breakdown(True, 0, (), ())
NO_LLM = LLMSummary(total_of([]), (), True, 0)


@pytest.mark.parametrize(
    ("server_changes", "keyspace_changes", "expected"),
    [
        ({}, {}, set()),
        ({"maxmemory_bytes": 0}, {}, {"no_maxmemory"}),
        ({"maxmemory_policy": "noeviction"}, {}, {"eviction_policy"}),
        ({"maxmemory_policy": "volatile-ttl"}, {}, {"eviction_policy"}),
        ({"maxmemory_policy": "volatile-lfu"}, {}, set()),
        ({}, {"keys_with_ttl": 90}, {"keys_without_ttl"}),
        ({}, {"evicted_keys": 7}, {"evictions"}),
        ({"mem_fragmentation_ratio": 1.9, "mem_fragmentation_bytes": 400 << 20}, {}, {"fragmentation"}),
        ({"mem_fragmentation_ratio": 6.0, "mem_fragmentation_bytes": 50 << 20}, {}, set()),  # small instance
    ],
)
def test_warning_rules(server_changes: dict, keyspace_changes: dict, expected: set[str]) -> None:
    found = find_warnings(server(**server_changes), keyspace(**keyspace_changes), NO_BREAKDOWN, NO_LLM)
    assert {w.code for w in found} == expected


def test_counter_hashes_are_not_leaks() -> None:
    llm = LLMSummary(total_of([]), (), True, hashes_without_ttl=3)
    assert find_warnings(server(), keyspace(keys_with_ttl=97), NO_BREAKDOWN, llm) == []


def node(name: str, **changes: object) -> NodeInfo:
    """One primary of a cluster: the server's figures (less ``nodes``) plus its keyspace's."""
    base = {k: v for k, v in SERVER.items() if k != "nodes"}
    base |= dict(name=name, role="primary", primary=None, mode="cluster", keys=50, keys_with_ttl=50)
    base |= dict(hits=5, misses=5, evicted_keys=0, expired_keys=3)
    return NodeInfo(**{**base, **changes})  # type: ignore[arg-type]


def test_cluster_warnings_name_each_primary_that_needs_action() -> None:
    nodes = [
        node("10.0.0.1:7000", maxmemory_bytes=0),
        node("10.0.0.2:7000", maxmemory_policy="noeviction", evicted_keys=7),
        node("10.0.0.3:7000", mem_fragmentation_ratio=2.5, mem_fragmentation_bytes=300 << 20),
    ]
    summed = server(maxmemory_bytes=0, maxmemory_policy="mixed", nodes=3)
    gone = [UnreachableNode("10.0.0.4:7000", "replica", "cannot connect")]
    found = find_warnings(
        summed, keyspace(evicted_keys=7, keys_with_ttl=90), NO_BREAKDOWN, NO_LLM, nodes, gone
    )
    assert [(w.code, w.node) for w in found] == [
        ("no_maxmemory", "10.0.0.1:7000"),
        ("eviction_policy", "10.0.0.2:7000"),
        ("keys_without_ttl", None),  # counted over the whole keyspace
        ("evictions", "10.0.0.2:7000"),
        ("fragmentation", "10.0.0.3:7000"),
        ("node_unreachable", "10.0.0.4:7000"),
    ]
    assert found[0].message.startswith("node 10.0.0.1:7000: maxmemory is not set")
    assert found[3].message.startswith("node 10.0.0.2:7000: 7 keys were evicted")
    assert "replica 10.0.0.4:7000 did not answer" in found[5].message
    # one node is a single server: the same rules, worded without a node
    alone = find_warnings(server(maxmemory_bytes=0), keyspace(), NO_BREAKDOWN, NO_LLM, [node("a:1")])
    assert [(w.code, w.node) for w in alone] == [("no_maxmemory", None)]
    assert alone[0].message.startswith("maxmemory is not set")
