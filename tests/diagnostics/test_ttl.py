"""ttl on the real server: exact counts, the policy check, selections, samples, Ctrl-C."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
import redis

from llmcache_cli.cli.render.ttl_view import as_json
from llmcache_cli.client import RedisHandle
from llmcache_cli.config import DATA_TYPES, Settings
from llmcache_cli.diagnostics.ttl_audit import inspect_ttls
from llmcache_cli.diagnostics.ttl_tally import KeyGroup, bucket_index
from llmcache_cli.keys import is_internal, parse_key
from llmcache_cli.ttl_policy import TTLPolicy, make_policy
from tests.diagnostics.conftest import fill_entries, interrupt
from tests.diagnostics.mixed import Mixed

pytestmark = pytest.mark.redis

SETTINGS = Settings()
ENTITIES = SETTINGS.stock_entities


def policy(name: str = "market-aware") -> TTLPolicy:
    return make_policy(SETTINGS, name)


def is_cache_key(key: bytes, extra: frozenset[str] = frozenset()) -> bool:
    parsed = parse_key(key)
    return not is_internal(key) and parsed is not None and parsed.namespace in {*DATA_TYPES, *extra}


def over_policy_by_hand(client: redis.Redis, rules: TTLPolicy) -> set[str]:
    out = set()
    for key in client.scan_iter(count=500):
        pttl = client.pttl(key)
        parsed = parse_key(key)
        if not parsed or not is_cache_key(key) or pttl < 0:
            continue
        if pttl > 1000 * rules.max_ttl(parsed.data_type, parsed.symbol(ENTITIES)):
            out.add(key.decode())
    return out


def test_counts_are_exact(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    report = inspect_ttls(handle, policy(), stock_entities=ENTITIES, limit=1000)
    every = list(real_redis.scan_iter(count=500))
    cache = [k for k in every if is_cache_key(k)]
    no_ttl = [k for k in cache if real_redis.ttl(k) == -1]
    assert report.scanned == real_redis.dbsize() == mixed.keys and report.exact
    assert report.no_ttl == len(no_ttl) and 0 < report.no_ttl < mixed.no_ttl
    assert {k.key for k in report.no_ttl_keys} == {k.decode() for k in no_ttl}
    assert sum(b.keys for b in report.buckets) == len(cache)
    assert report.buckets[-1].label == "no TTL" and report.buckets[-1].keys == report.no_ttl
    cache_memory = sum(real_redis.memory_usage(k) for k in cache)
    assert sum(b.memory_bytes for b in report.buckets) == cache_memory
    # llmcache's counter hashes: counted apart, never a leak
    internal = [k for k in every if is_internal(k)]
    assert report.bookkeeping == KeyGroup(2, sum(real_redis.memory_usage(k) for k in internal), 2)
    other = [k for k in every if not is_internal(k) and not is_cache_key(k)]
    assert report.other.keys == len(other) and report.scanned == len(cache) + 2 + len(other)
    assert not any(k.key.startswith(("llmcache:", "chatbot:", "plain:")) for k in report.no_ttl_keys)
    over = over_policy_by_hand(real_redis, policy())
    assert report.over_policy == len(over) and {k.key for k in report.over_policy_keys} == over
    assert {"technical:stock:AAPL:v1", "sentiment:stock:TSLA:v1"} <= over  # TSLA is volatile: 1800 s
    assert "analysis:stock:AAPL:v1" not in over


def test_per_type_rows(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    report = inspect_ttls(handle, policy("by-type"), stock_entities=ENTITIES)
    rows = {row.group: row for row in report.data_types}
    assert set(rows) == {"technical", "analysis", "sentiment", "fundamental"}  # no chatbot, no llmcache
    assert rows["technical"].policy_max_ttl_seconds == 900
    ttls = [
        real_redis.pttl(k)
        for k in real_redis.scan_iter(match="technical:*", count=500)
        if real_redis.pttl(k) > 0
    ]
    row = rows["technical"]
    assert row.keys == len(list(real_redis.scan_iter(match="technical:*")))
    assert abs(row.median_ttl_seconds - statistics.median(ttls) / 1000) <= 2
    assert (
        abs(row.max_ttl_seconds - max(ttls) / 1000) <= 2 and abs(row.min_ttl_seconds - min(ttls) / 1000) <= 2
    )
    assert (
        sum(r.keys for r in report.data_types) + report.bookkeeping.keys + report.other.keys == report.scanned
    )


def test_other_keys_are_never_judged_unless_the_config_names_their_namespace(
    real_redis: redis.Redis, handle: RedisHandle
) -> None:
    real_redis.set("session:user:42", "x", ex=90 * 86400)  # not the cache's: long TTLs are its business
    real_redis.set("chatbot:stock:AAPL:v1", "x", ex=90 * 86400)
    real_redis.set("chatbot:stock:MSFT:v1", "x")
    plain = inspect_ttls(handle, policy("by-type"), stock_entities=ENTITIES)
    assert (plain.over_policy, plain.no_ttl, plain.other.keys, plain.other.no_ttl) == (0, 0, 3, 1)
    assert plain.data_types == ()
    named = inspect_ttls(handle, policy("by-type"), stock_entities=ENTITIES, cache_namespaces={"chatbot"})
    assert {k.key for k in named.over_policy_keys} == {"chatbot:stock:AAPL:v1"}  # judged as analysis
    assert {k.key for k in named.no_ttl_keys} == {"chatbot:stock:MSFT:v1"}
    assert named.other.keys == 1 and [r.group for r in named.data_types] == ["analysis"]


def test_symbol_is_exact(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    real_redis.set("analysis:stock:aapl:v1", "lower")
    real_redis.set("analysis:stock:AAPL.X:v1", "dot")
    real_redis.set("analysis:fx:AAPL:v1", "other entity")
    real_redis.set("analysis:stock:{AAPL}:v2", "hash tag", ex=100)
    report = inspect_ttls(handle, policy(), stock_entities=ENTITIES, symbol="AAPL", limit=100)
    expected = {"analysis:stock:AAPL:v1", "technical:stock:AAPL:v1", "analysis:stock:{AAPL}:v2"}
    expected |= {"h:stock:AAPL", "l:stock:AAPL"}  # other namespaces, same symbol
    assert report.scanned == len(expected) and report.other.keys == 2
    assert report.no_ttl_keys == ()  # l:stock:AAPL has none, but it is not a cache entry
    assert {k.key for k in report.over_policy_keys} == {"technical:stock:AAPL:v1"}


def test_symbol_with_glob_characters_matches_nothing_else(handle: RedisHandle, mixed: Mixed) -> None:
    report = inspect_ttls(handle, policy(), stock_entities=ENTITIES, symbol="*")
    assert report.scanned == 0


def test_pattern_keys_and_sample(real_redis: redis.Redis, handle: RedisHandle, mixed: Mixed) -> None:
    by_pattern = inspect_ttls(handle, policy(), stock_entities=ENTITIES, pattern="plain:*")
    memory = sum(int(real_redis.memory_usage(k, samples=0) or 0) for k in real_redis.scan_iter("plain:*"))
    assert by_pattern.scanned == 3 and by_pattern.no_ttl == 0 and by_pattern.other == KeyGroup(3, memory, 2)
    named = inspect_ttls(handle, policy(), keys=["plain:text:doc", "nope", "plain:text:doc"])
    assert (named.scanned, named.vanished) == (1, 1) and named.other.keys == 1
    cached = inspect_ttls(handle, policy(), keys=["analysis:stock:AAPL:v1"])
    assert cached.buckets[bucket_index(3_000_000)].keys == 1
    sample = inspect_ttls(handle, policy(), sample=50)
    assert not sample.exact and 50 <= sample.scanned < 150
    assert as_json(sample)["selection"].startswith("a sample")
    whole = inspect_ttls(handle, policy(), sample=10_000)
    assert whole.exact and whole.scanned == mixed.keys  # the sample covered every key


def test_ctrl_c_is_partial(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill_entries(real_redis, 4000, ex=100)
    report = inspect_ttls(handle, policy(), on_progress=interrupt)
    assert report.partial and not report.exact and 0 < report.scanned < 4000


def test_bucket_bounds() -> None:
    assert bucket_index(-1) == 6 and bucket_index(0) == 0 and bucket_index(59_999) == 0
    assert bucket_index(60_000) == 1 and bucket_index(604_800_000) == 5
    assert dt.timedelta(milliseconds=3_599_999) < dt.timedelta(hours=1) and bucket_index(3_599_999) == 2
