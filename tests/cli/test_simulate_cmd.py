"""``llmcache simulate``: JSON fields and values, the report, --compare, --trace, --populate,
and one clear line with exit code 2 for bad input."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import redis

from llmcache_cli.cache.trace import TraceRecord
from tests.cli.conftest import Invoke, json_of

KEY = "analysis:stock:AAPL:v1"
REQUIRED = (
    "requests",
    "hits",
    "misses",
    "hit_rate",
    "cost_without_cache_usd",
    "cost_with_cache_usd",
    "savings_usd",
    "savings_pct",
    "latency_without_cache_ms",
    "latency_with_cache_ms",
    "speedup",
    "stale_hits",
)


def test_default_is_the_seed_scenario_with_hits_counted_without_cache(cli: Invoke) -> None:
    """50 stocks x 26 cycles; a 1 h TTL serves the next 4 cycles: 6 LLM calls per stock."""
    doc = json_of(cli("simulate", "--json"))
    assert all(name in doc for name in REQUIRED)
    assert (doc["requests"], doc["hits"], doc["misses"]) == (1300, 1000, 300)
    assert doc["hit_rate"] == pytest.approx(1000 / 1300, abs=1e-4)
    assert doc["cost_without_cache_usd"] == pytest.approx(13.0)  # every request, hits included
    assert doc["cost_with_cache_usd"] == pytest.approx(3.0)
    assert doc["savings_usd"] == pytest.approx(10.0) and doc["savings_pct"] == pytest.approx(
        76.9231, abs=1e-3
    )
    assert doc["latency_without_cache_ms"] == 1300 * 500
    assert doc["latency_with_cache_ms"] == 1000 * 5 + 300 * 505
    assert doc["speedup"] == pytest.approx(650_000 / 156_500, abs=1e-3)
    assert 0 < doc["stale_hits"] < doc["hits"]
    assert doc["monthly_projection"] == {
        "trading_days": 21,
        "basis_days": 1,
        "cost_without_cache_usd": 273.0,
        "cost_with_cache_usd": 63.0,
        "savings_usd": 210.0,
    }
    assert [d["date"] for d in doc["per_day"]] == ["2025-06-02"] and doc["per_day"][0]["half_day"] is False
    assert [t["data_type"] for t in doc["per_data_type"]] == ["analysis"]
    series = doc["cumulative_cost"]
    assert len(series) == 26 and series[-1]["cost_without_cache_usd"] == pytest.approx(13.0)
    assert series[-1]["cost_with_cache_usd"] == pytest.approx(3.0) and series[0]["cost_with_cache_usd"] == 0.5
    params = doc["parameters"]
    assert (params["symbols"], params["policy"], params["flat_ttl_seconds"], params["key_strategy"]) == (
        50,
        "flat",
        3600,
        "symbol",
    )
    assert len(set(params["symbol_list"])) == 50 and doc["live_entries_at_end"] == 50


def test_same_seed_same_figures_other_seed_other_inputs(cli: Invoke) -> None:
    args = ("simulate", "--json", "--days", "2", "--data-types", "technical,sentiment")
    first, again = json_of(cli(*args, "--seed", "5")), json_of(cli(*args, "--seed", "5"))
    other = json_of(cli(*args, "--seed", "6"))
    assert first == again
    assert first["misses"] == other["misses"] and first["stale_hits"] != other["stale_hits"]


def test_breakdowns_sum_to_the_totals(cli: Invoke) -> None:
    args = ["--symbols", "AAPL,TSLA,KO", "--data-types", "all", "--policy", "market-aware"]
    doc = json_of(
        cli("simulate", "--json", *args, "--start", "2024-11-25", "--days", "4", "--interval", "5m")
    )
    assert [d["date"] for d in doc["per_day"]] == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29"]
    assert [d["half_day"] for d in doc["per_day"]] == [False, False, False, True]
    for rows in (doc["per_day"], doc["per_data_type"]):
        for name in ("requests", "misses", "stale_hits"):
            assert sum(r[name] for r in rows) == doc[name]
        assert sum(r["cost_with_cache_usd"] for r in rows) == pytest.approx(doc["cost_with_cache_usd"])
    assert len(doc["per_data_type"]) == 7 and doc["requests"] == 3 * 7 * (78 * 3 + 42)


def test_model_pricing_and_latencies(cli: Invoke) -> None:
    doc = json_of(
        cli("simulate", "--json", "--symbols", "2", "--model", "claude-haiku-4-5", "--input-tokens", "1000",
            "--output-tokens", "200", "--llm-latency-ms", "2000", "--cache-latency-ms", "1")
    )  # fmt: skip
    per_call = (1000 * 1.0 + 200 * 5.0) / 1e6
    assert doc["cost_without_cache_usd"] == pytest.approx(52 * per_call)
    assert doc["parameters"]["model"] == "claude-haiku-4-5"
    assert doc["latency_without_cache_ms"] == 52 * 2000


def test_report_for_people(cli: Invoke) -> None:
    result = cli("simulate", "--days", "2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for words in ("Hit rate", "76.9%", "Cost without cache", "$26.00", "Per month", "21 trading days",
                  "Per data type", "Per day", "Cumulative cost", "faster", "Stale hits"):  # fmt: skip
        assert words in out, words


def test_compare_highlights_the_best_fresh_run(cli: Invoke) -> None:
    doc = json_of(cli("simulate", "--compare", "--json", "--symbols", "10", "--days", "2"))
    runs = doc["runs"]
    assert len(runs) == 12 and {r["key_strategy"] for r in runs} == {
        "symbol",
        "data-hash",
        "time-bucket",
        "conditional",
    }
    fresh = [r for r in runs if (r["stale_hit_rate"] or 0) <= 0.05]
    best = max(fresh, key=lambda r: r["savings_usd"])
    assert doc["best"] == {"key_strategy": best["key_strategy"], "policy": best["policy"]}
    assert all(r["stale_hits"] == 0 for r in runs if r["key_strategy"] in ("data-hash", "conditional"))
    assert any(r["stale_hits"] > 0 for r in runs if r["key_strategy"] == "symbol")
    table = cli("simulate", "--compare", "--symbols", "10")
    assert table.exit_code == 0 and "best:" in table.stdout
    only = json_of(cli("simulate", "--compare", "--json", "--symbols", "10", "--key-strategy", "symbol"))
    assert [(r["key_strategy"], r["policy"]) for r in only["runs"]] == [
        ("symbol", "flat"),
        ("symbol", "by-type"),
        ("symbol", "market-aware"),
    ]


def test_replaying_a_trace(cli: Invoke, tmp_path: Path) -> None:
    start = dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.timezone.utc)
    lines = []
    for k in range(40):  # every 5 min, one key; the bot had a 10 min TTL and recorded 1 in 2 as hits
        at = (start + dt.timedelta(minutes=5 * k)).isoformat()
        hit = k % 2 == 1
        rec = TraceRecord(
            at, KEY, "analysis", "AAPL", "analysis", hit, "gpt-4o", 1000, 100, 0.02, 800.0, 2.0, 600
        )
        lines.append(rec.to_json())
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join(lines) + "\n")
    doc = json_of(cli("simulate", "--trace", str(path), "--ttl", "1h", "--json"))
    assert (doc["source"], doc["engine"], doc["requests"]) == ("trace", "replay", 40)
    assert doc["misses"] == 4 and doc["stale_hits"] is None  # 0, 60, 120, 180 min (the hour is inclusive)
    assert doc["recorded"]["misses"] == 20 and doc["recorded"]["cost_with_cache_usd"] == pytest.approx(0.4)
    assert doc["cost_without_cache_usd"] == pytest.approx(0.8)
    report = cli("simulate", "--trace", str(path))
    assert report.exit_code == 0 and "As the trace recorded it" in report.stdout


def trace_of(path: Path, hits: list[bool], llm_ms: float, cache_ms: float) -> Path:
    """One request a minute, each for another key, recorded as ``hits`` say."""
    start = dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.timezone.utc)
    lines = [
        TraceRecord(
            (start + dt.timedelta(minutes=k)).isoformat(), f"analysis:stock:S{k}:v1", "analysis", f"S{k}",
            "analysis", hit, None, None, None, 0.01, llm_ms, cache_ms, 600,
        ).to_json()
        for k, hit in enumerate(hits)
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def test_slower_with_the_cache_says_slower(cli: Invoke, tmp_path: Path) -> None:
    """Every request a miss: 5 x (900 ms + 9 ms) with the cache against 5 x 900 ms without."""
    path = trace_of(tmp_path / "t.jsonl", [False] * 5, 900.0, 9.0)
    args = ("simulate", "--trace", str(path), "--llm-latency-ms", "900", "--cache-latency-ms", "9")
    doc = json_of(cli(*args, "--json"))
    assert (doc["latency_without_cache_ms"], doc["latency_with_cache_ms"]) == (4500, 4545)
    out = cli(*args).stdout
    assert "1.0% slower" in out and "faster" not in out
    # and faster when it is: 4 hits of 5 in the trace as recorded
    recorded = cli("simulate", "--trace", str(trace_of(tmp_path / "h.jsonl", [False] + [True] * 4, 900, 9)))
    assert re.search(r"\d\.\dx faster", recorded.stdout) and "slower" in recorded.stdout



@pytest.mark.parametrize(
    "args",
    [
        ["simulate"],
        ["simulate", "--compare", "--days", "2"],
        # half days, every data type, counts in the millions and costs in thousands
        ["simulate", "--symbols", "300", "--data-types", "all", "--interval", "1m", "--days", "3",
         "--start", "2024-11-27", "--policy", "market-aware"],
        ["simulate", "--ttl", "86399", "--interval", "90s", "--llm-latency-ms", "2500"],
    ],
)
def test_piped_output_fits_80_columns(cli: Invoke, args: list[str]) -> None:
    """Piped (CliRunner's output is not a terminal) at 80 columns: nothing cut, no line
    longer, and every duration in at most two units."""
    result = cli(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "…" not in result.stdout
    assert max(len(line) for line in lines) <= 80
    assert not re.search(r"\d+[dhms]\d+[dhms]\d", result.stdout)  # 23h59m59s
    assert not re.search(r"\b\d+[dhm] \d+[dhms] \d+[hms]\b", result.stdout)  # 23h 59m 59s
    headers = [line.split() for line in lines if line.startswith(("data type", "date ", "strategy"))]
    for header in headers:
        assert header[-1] in ("stale", "latency"), header


def test_piped_trace_report_fits_80_columns(cli: Invoke, tmp_path: Path) -> None:
    path = trace_of(tmp_path / "t.jsonl", [False, True] * 30, 1234.5, 2.0)
    result = cli("simulate", "--trace", str(path), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout and max(len(line) for line in result.stdout.splitlines()) <= 80


def test_durations_in_two_units(cli: Invoke) -> None:
    """The default run's latencies: 650,000 ms and 156,500 ms."""
    out = cli("simulate", env={"COLUMNS": "80"}).stdout
    assert re.search(r"Latency without cache +10m 50s", out)
    assert re.search(r"Latency with cache +2m 36s +4\.2x faster", out)
    wide = cli("simulate", "--ttl", "86399", "--interval", "90s").stdout
    assert "(TTL 23h 59m)" in wide and "every 1m 30s" in wide


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--interval", "0"], "--interval must be longer than zero"),
        (["--interval", "-15m"], "--interval must be positive"),
        (["--interval", "soon"], "invalid --interval"),
        (["--days", "0"], "number of trading days must be a whole number greater than zero"),
        (["--days", "-2"], "greater than zero"),
        (["--symbols", "0"], "--symbols must be a whole number greater than zero"),
        (["--symbols", "-5"], "greater than zero"),
        (["--symbols", "AAPL,,MSFT"], "--symbols"),
        (["--key-strategy", "by-mood"], "unknown key strategy 'by-mood'"),
        (["--policy", "forever"], "unknown TTL policy 'forever'"),
        (["--data-types", "analysis,gossip"], "unknown data type 'gossip'"),
        (["--start", "2025-02-30"], "--start '2025-02-30' is not a date"),
        (["--start", "monday"], "is not a date"),
        (["--ttl", "0"], "--ttl must be longer than zero"),
        (["--ttl", "60", "--policy", "by-type"], "--ttl"),
        (["--model", "gpt-99"], "unknown model 'gpt-99'"),
        (["--cost-per-call", "-1"], "--cost-per-call must be >= 0"),
        (["--engine", "warp"], "unknown engine"),
        (["--trace", "/nonexistent/trace.jsonl"], "trace file not found"),
        (["--compare", "--trace", "x"], "--compare"),
        (["--trace", "x.jsonl", "--days", "2"], "--days does not apply to --trace"),
        (["--trace", "x.jsonl", "--key-strategy", "symbol"], "--key-strategy does not apply to --trace"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli: Invoke, args: list[str], words: str) -> None:
    result = cli("simulate", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmcache: error:") and words in lines[0], lines
    assert result.stdout == ""


def test_malformed_trace_names_the_line(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    at = "2025-06-02T14:00:00+00:00"
    good = TraceRecord(
        at, "a:stock:X:v1", "a", "X", "analysis", False, None, None, None, 0.01, 1.0, 1.0, 60
    ).to_json()
    path.write_text(good + "\n" + good + "\n" + '{"ts": "2025-06-02T14:00:00Z"}\n')
    result = cli("simulate", "--trace", str(path))
    assert result.exit_code == 2
    assert "line 3: missing field 'key'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.redis
def test_populate_writes_entries_ttls_and_counters(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    doc = json_of(cli("simulate", "--json", "--data-types", "analysis,technical", "--populate", redis_url))
    keys = sorted(k.decode() for k in real_redis.scan_iter(count=1000) if not k.startswith(b"llmcache:"))
    assert len(keys) == doc["live_entries_at_end"] == 100
    assert "analysis:stock:AAPL:v1" in keys and "technical:stock:TSLA:v1" in keys
    # written at 15:45:00.5 for 3600 s: 2700.5 s left at the 16:00 close, rounded up
    assert 2690 < real_redis.ttl("analysis:stock:AAPL:v1") <= 2701
    stats = {k.decode(): float(v) for k, v in real_redis.hgetall("llmcache:stats:technical").items()}
    assert stats["hits"] == 1000 and stats["misses"] == 300
    assert stats["cost_spent_usd"] == pytest.approx(3.0) and stats["cost_saved_usd"] == pytest.approx(10.0)
    assert stats["time_saved_ms"] == pytest.approx(1000 * (500 - 5))
    entry = cli("--url", redis_url, "get", "analysis:stock:AAPL:v1", "--json")
    assert entry.exit_code == 0 and '"simulated": true' in entry.stdout


def test_populate_against_a_dead_server_is_exit_1(cli: Invoke) -> None:
    from tests.support.servers import free_port

    result = cli("simulate", "--populate", f"redis://127.0.0.1:{free_port()}/0", "--json")
    assert result.exit_code == 1 and "cannot connect" in result.stderr


def test_populate_honours_the_global_timeout(cli: Invoke) -> None:
    """A server that accepts and never answers: the message names the --timeout given."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        result = cli("--timeout", "0.5", "simulate", "--symbols", "3", "--populate", url)
    assert result.exit_code == 1
    assert "did not answer within 0.5s" in result.stderr and len(result.stderr.strip().splitlines()) == 1
