"""Pricing, the in-process report, the trace format and the package's exports (no Redis)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import llmcache_cli
from llmcache_cli.cache import CacheStats, TraceRecord, estimate_tokens, price_call, read_trace
from llmcache_cli.cache.costs import Usage, settle_usage
from llmcache_cli.cache.counters import CounterDelta, PendingCounters
from llmcache_cli.cache.trace import TraceWriter
from llmcache_cli.config import Settings, settings_from_mapping


def test_default_prices_and_override() -> None:
    settings = Settings()
    assert price_call(settings, "claude-sonnet-4-5", 1_000_000, 1_000_000) == pytest.approx(18.0)
    assert price_call(settings, "claude-haiku-4-5", 1_000_000, 1_000_000) == pytest.approx(6.0)
    custom = settings_from_mapping(
        {"prices": {"claude-sonnet-4-5": {"input_per_mtok": 2, "output_per_mtok": 10}}}
    )
    assert price_call(custom, "claude-sonnet-4-5", 500_000, 100_000) == pytest.approx(2.0)
    assert price_call(settings, "no-such-model", 10, 10) == 0.0


def test_estimates_fill_what_the_call_did_not_report() -> None:
    settings = Settings()
    cost = settle_usage(settings, Usage(), {"symbol": "AAPL"}, "x" * 400)
    assert cost.estimated and cost.model == settings.default_model
    assert cost.input_tokens == estimate_tokens({"symbol": "AAPL"}) and cost.output_tokens == 100
    reported = settle_usage(settings, Usage("gpt-4o", 1000, 10), {}, "")
    assert not reported.estimated and reported.cost_usd == pytest.approx((1000 * 2.5 + 10 * 10) / 1e6)
    given = settle_usage(settings, Usage("gpt-4o", 1, 1, cost_usd=0.5), {}, "")
    assert given.cost_usd == 0.5


def test_report_counts_hits_in_the_without_cache_totals() -> None:
    stats = CacheStats()
    stats.record_miss("analysis")
    stats.record_llm_call(0.01, 500.0)
    for _ in range(3):
        stats.record_hit("analysis", 0.01, 500.0)
        stats.record_cache_latency(2.0)
    assert stats.hit_rate == 0.75
    assert stats.cost_without_cache_usd == pytest.approx(0.04)
    assert stats.cost_with_cache_usd == pytest.approx(0.01)
    assert stats.savings_pct == pytest.approx(75.0)
    assert stats.speedup == pytest.approx(2000 / 506)
    report = stats.report()
    assert "$0.0400" in report and "$0.0300 (75.0%)" in report and "75.0%" in report
    assert stats.to_dict()["by_namespace"] == {"analysis": {"hits": 3, "misses": 1, "near_hits": 0}}


def test_empty_report_has_no_invented_rates() -> None:
    stats = CacheStats()
    assert stats.hit_rate is None and stats.savings_pct is None and stats.speedup is None
    assert "n/a" in stats.report()


def test_pending_counters_sum_per_namespace() -> None:
    pending = PendingCounters()
    pending.add("analysis", CounterDelta(hits=1, cost_saved_usd=0.5))
    pending.add("analysis", CounterDelta(hits=2, misses=1))
    pending.add("sentiment", CounterDelta(cost_spent_usd=0.25))
    assert pending.drain() == [
        ("HINCRBY", "llmcache:stats:analysis", "hits", 3),
        ("HINCRBY", "llmcache:stats:analysis", "misses", 1),
        ("HINCRBYFLOAT", "llmcache:stats:analysis", "cost_saved_usd", "0.5"),
        ("HINCRBYFLOAT", "llmcache:stats:sentiment", "cost_spent_usd", "0.25"),
    ]
    assert not pending and pending.drain() == []


def test_trace_round_trip(tmp_path: Path) -> None:
    record = TraceRecord(
        ts="2025-03-03T14:30:00+00:00",
        key="analysis:stock:AAPL:v1",
        namespace="analysis",
        symbol="AAPL",
        data_type="analysis",
        hit=False,
        model="claude-sonnet-4-5",
        input_tokens=1200,
        output_tokens=300,
        cost_usd=0.0081,
        latency_ms=812.5,
        cache_latency_ms=0.4,
        ttl_seconds=3600,
    )
    writer = TraceWriter(tmp_path / "t.jsonl")
    writer.write(record)
    writer.write(record)
    writer.close()
    assert read_trace(tmp_path / "t.jsonl") == [record, record]


def test_public_names_and_a_light_import() -> None:
    assert llmcache_cli.CacheService.__name__ == "CacheService"
    assert callable(llmcache_cli.cached)
    with pytest.raises(AttributeError):
        _ = llmcache_cli.NoSuchThing  # type: ignore[attr-defined]
    code = "import sys, llmcache_cli; print('llmcache_cli.cache' in sys.modules, 'redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_report_cost_lines_add_up_as_printed_and_speak_in_plurals() -> None:
    """$0.00046 without the cache, $0.00023 with it: printed $0.0005 and $0.0002, so the savings
    line says $0.0003 (their difference as printed), not $0.0002 (a rounding of its own)."""
    stats = CacheStats()
    stats.record_miss("analysis")
    stats.record_llm_call(0.00023, 500.0)
    stats.record_hit("analysis", 0.00023, 500.0)
    money = {
        line.split("$")[0].strip(): float(line.split("$")[1].split()[0])
        for line in stats.report().splitlines()
        if "$" in line
    }
    assert money.keys() == {"without cache", "with cache", "savings"}
    assert money["without cache"] - money["with cache"] == pytest.approx(money["savings"])
    assert "(1 hit, 1 miss)" in stats.report()
