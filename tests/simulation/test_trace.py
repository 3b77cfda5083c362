"""Trace replay: the fast reader against ``json.loads``, the fast replay against the reference,
errors with line numbers, and a case by hand."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest

from llmcache_cli.cache.trace import TraceRecord
from llmcache_cli.errors import UsageError
from llmcache_cli.market import NY, MarketCalendar
from llmcache_cli.policy import TTLPolicy, make_policy
from llmcache_cli.simulation import trace_layout, trace_parse
from llmcache_cli.simulation.reference_engine import Cache, Request
from llmcache_cli.simulation.replay import replay, replay_file, request_costs
from llmcache_cli.simulation.trace_lines import parse_line
from llmcache_cli.simulation.trace_parse import read_columns
from tests.simulation.helpers import SETTINGS

START = dt.datetime(2025, 6, 2, 13, 30, tzinfo=dt.timezone.utc)  # Monday 9:30 New York
NEW_YORK = NY


def record(at: dt.datetime, key: str, symbol: str | None, data_type: str, **extra: object) -> TraceRecord:
    fields: dict[str, object] = {
        "ts": at.isoformat(),
        "key": key,
        "namespace": key.split(":")[0],
        "symbol": symbol,
        "data_type": data_type,
        "hit": False,
        "model": "claude-sonnet-4-5",
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": 0.0081,
        "latency_ms": 512.25,
        "cache_latency_ms": 1.5,
        "ttl_seconds": 3600,
    }
    fields.update(extra)
    return TraceRecord(**fields)  # type: ignore[arg-type]


def random_trace(path: Path, seed: int, lines: int = 1500, sorted_times: bool = True) -> list[str]:
    """The library's lines, plus some written otherwise (other field order, spaces, escapes,
    Z times) and blank lines, over two days and nights."""
    rnd = random.Random(seed)
    keys = [
        (f"{t}:stock:{s}:v1", s, t)
        for s in ("AAPL", "TSLA", "GME", "KO")
        for t in ("technical", "fundamental", "analysis")
    ]
    keys += [("analysis:fn:report:v1", None, "analysis"), ('sentiment:stock:W"X:v1', 'W"X', "sentiment")]
    at, out = START, []
    for _ in range(lines):
        at += dt.timedelta(milliseconds=rnd.choice((0, 0, 250, 1000, 30_000, 600_000, 7_200_000)))
        when = at if sorted_times else at - dt.timedelta(milliseconds=rnd.randrange(0, 3_000_000))
        key, symbol, data_type = rnd.choice(keys)
        when = when.replace(microsecond=rnd.choice((0, 123456, when.microsecond)))
        rec = record(
            when.astimezone(NEW_YORK) if rnd.random() < 0.2 else when,  # the offset decoded too
            key,
            symbol,
            data_type,
            hit=rnd.random() < 0.6,
            model=rnd.choice(("claude-sonnet-4-5", None)),
            input_tokens=rnd.choice((1200, None, 7)),
            cost_usd=rnd.choice((0.0081, 1.5e-05, 0.25, 0)),
            latency_ms=rnd.choice((512.25, 0, 12345.5)),
        )
        style = rnd.random()
        if style < 0.05:
            out.append(json.dumps({k: v for k, v in reversed(list(json.loads(rec.to_json()).items()))}))
        elif style < 0.08:
            out.append(json.dumps(json.loads(rec.to_json())).replace("+00:00", "Z"))
        elif style < 0.09:
            out.append("   ")
        else:
            out.append(rec.to_json())
    path.write_text("\n".join(out) + rnd.choice(("\n", "")), encoding="utf-8")
    return out


def replay_reference(
    lines: list, policy: TTLPolicy, latency_ms: int  # type: ignore[type-arg]
) -> tuple[list[bool], dict[str, tuple[int, int, int]]]:
    """The reference engine over the trace: which requests miss (in file order), and the store
    at the end: key -> (line index of the answer, written_ms, expires_ms). Requests are taken in
    time order, ties in file order."""
    cache = Cache(policy, latency_ms)
    miss = [False] * len(lines)
    for i in sorted(range(len(lines)), key=lambda i: (lines[i].t_ms, i)):
        line = lines[i]
        miss[i] = cache.serve(Request(line.t_ms, line.key, line.data_type, line.symbol, tag=i)).miss
    cache.land()
    return miss, {key: (e.request.tag, e.written_ms, e.expires_ms) for key, e in cache.store.items()}


def slow_lines(text: list[str]) -> list:  # type: ignore[type-arg]
    parsed = [parse_line(t.encode(), "t", i + 1) for i, t in enumerate(text)]
    return [p for p in parsed if p is not None]


COLUMNS = ("t_ms", "hit", "cost_usd", "latency_ms", "cache_latency_ms", "input_tokens", "output_tokens")


def assert_fast_reader_agrees(path: Path, text: list[str]) -> None:
    """The fast reader's columns for ``path`` equal what json.loads makes of each line, and
    most lines took the fast path."""
    columns = read_columns(str(path), "trace", want_tokens=True)
    expected = slow_lines(text)
    assert columns.size == len(expected)
    assert columns.fast_lines > 0.8 * len(expected)
    assert [columns.keys[k] for k in columns.key_id.tolist()] == [line.key for line in expected]
    for name in COLUMNS:
        assert np.array_equal(
            getattr(columns, name), [getattr(line, name) for line in expected], equal_nan=True
        ), name
    for k, key in enumerate(columns.keys):
        line = next(line for line in expected if line.key == key)
        assert (columns.key_symbol[k], columns.key_type[k]) == (line.symbol, line.data_type)


@pytest.mark.parametrize("seed", range(4))
def test_fast_reader_agrees_with_json_loads(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trace.jsonl"
    text = random_trace(path, seed)
    monkeypatch.setattr(trace_parse, "BLOCK_BYTES", 4096 if seed % 2 else trace_parse.BLOCK_BYTES)
    assert_fast_reader_agrees(path, text)


def uniform_trace(path: Path, seed: int, symbol: bool, model: bool, lines: int = 3000) -> list[str]:
    """Only the library's lines, all with one layout (symbol and model given or null), as one
    bot writes them: the fast reader takes its per-block path for those. Keys of many lengths
    (up to past its key limit), new keys arriving late, values of every form, times in order,
    and a few lines it must leave to the slow reader (a Z time, an exponent, a longer key)."""
    rnd = random.Random(seed)
    names = ["A", "MSFT", "BRK.B", "X" * 13, "Y" * 40, "Z" * 90, "W" * 300]
    at, out = START, []
    for k in range(lines):
        at += dt.timedelta(microseconds=rnd.choice((0, 137, 250_000, 60_000_000, 3_600_000_000)))
        limit = 2 if k < lines // 3 else len(names)  # the longer keys come later, in new blocks
        name = rnd.choice(names[:limit]) + str(rnd.randrange(30))
        data_type = rnd.choice(("technical", "analysis"))
        rec = record(
            at,
            f"{data_type}:stock:{name}:v1",
            name if symbol else None,
            data_type,
            hit=rnd.random() < 0.7,
            model="claude-sonnet-4-5" if model else None,
            input_tokens=rnd.choice((1200, 7, None, 123456)),
            output_tokens=rnd.choice((300, 0)),
            cost_usd=rnd.choice((0.0081, 0.25, 0, 12.5, 1.5e-05, 0.000123)),
            latency_ms=rnd.choice((512.25, 0, 12345.5, 99999999.5, 7)),
            cache_latency_ms=rnd.choice((1.5, 0.0, 3)),
        )
        line = rec.to_json()
        if rnd.random() < 0.01:
            line = line.replace("+00:00", "Z")
        out.append(line)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return out


@pytest.mark.parametrize(("symbol", "model"), [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("block", [4096, 1 << 16])
def test_fast_reader_agrees_on_uniform_blocks(
    tmp_path: Path, symbol: bool, model: bool, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trace.jsonl"
    text = uniform_trace(path, block + 2 * symbol + model, symbol, model)
    monkeypatch.setattr(trace_parse, "BLOCK_BYTES", block)
    assert_fast_reader_agrees(path, text)


def test_fast_reader_survives_hash_collisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key hashing alike: keys are still told apart byte for byte."""
    path = tmp_path / "trace.jsonl"
    text = uniform_trace(path, 5, True, True, lines=1500)
    monkeypatch.setattr(trace_parse, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(trace_layout, "HASH_WORDS", np.zeros_like(trace_layout.HASH_WORDS))
    columns = read_columns(str(path), "trace")
    expected = slow_lines(text)
    assert [columns.keys[k] for k in columns.key_id.tolist()] == [line.key for line in expected]
    assert columns.fast_lines > 0.8 * len(expected)


def test_two_readers_agree_with_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "trace.jsonl"
    random_trace(path, 11, lines=3000)
    single = read_columns(str(path), "trace")
    monkeypatch.setattr(trace_parse, "PARALLEL_MIN_BYTES", 1024)
    double = read_columns(str(path), "trace")
    assert double.lines == single.lines and double.size == single.size
    assert [double.keys[k] for k in double.key_id.tolist()] == [
        single.keys[k] for k in single.key_id.tolist()
    ]
    assert np.array_equal(double.t_ms, single.t_ms) and np.array_equal(double.offset, single.offset)


@pytest.mark.parametrize(
    ("seed", "policy", "ttl", "latency_ms", "sorted_times"),
    [
        (1, "flat", 60, 0, True),
        (2, "flat", 60, 500, False),
        (3, "by-type", None, 5000, True),
        (4, "market-aware", None, 500, False),
        (5, "market-aware", None, 1_000_000, True),
        (6, "flat", 1, 1000, True),
    ],
)
def test_fast_replay_agrees_with_the_reference(
    tmp_path: Path, seed: int, policy: str, ttl: int | None, latency_ms: int, sorted_times: bool
) -> None:
    path = tmp_path / "trace.jsonl"
    text = random_trace(path, seed, sorted_times=sorted_times)
    calendar = MarketCalendar()
    ttl_policy = make_policy(SETTINGS, policy, calendar=calendar, flat_seconds=ttl)
    columns = read_columns(str(path), "trace")
    replayed = replay(columns, ttl_policy, calendar, latency_ms, request_costs(columns, SETTINGS, None))
    miss, store = replay_reference(slow_lines(text), ttl_policy, latency_ms)
    assert replayed.miss.tolist() == miss
    assert 0 < sum(miss) < len(miss)
    in_time_order = sorted(np.flatnonzero(replayed.miss).tolist(), key=lambda i: (int(columns.t_ms[i]), i))
    last_write = {
        columns.keys[columns.key_id[i]]: (i, int(columns.t_ms[i]) + latency_ms) for i in in_time_order
    }
    assert {k: v[:2] for k, v in store.items()} == last_write
    live = {k for k, v in store.items() if v[2] >= replayed.tally.end_ms}
    result = replay_file(
        str(path),
        SETTINGS,
        policy=policy,
        flat_ttl_seconds=ttl,
        llm_latency_ms=latency_ms,
        cache_latency_ms=1.0,
    )
    assert {e.key for e in result.live} == live
    assert {e.key: e.expires_ms for e in result.live} == {k: store[k][2] for k in live}


def test_a_replay_by_hand(tmp_path: Path) -> None:
    """Flat 1 s TTL, no latency: 0 s misses (until 1 s), 1 s hits (expiry instant), 2 s
    misses, 2.5 s hits; another key at 2 s misses. Trace recorded 1 miss, costs 0.01 each."""
    path = tmp_path / "t.jsonl"
    times = [
        (0, "a:stock:X:v1"),
        (1000, "a:stock:X:v1"),
        (2000, "a:stock:X:v1"),
        (2500, "a:stock:X:v1"),
        (2000, "b:stock:X:v1"),
    ]
    lines = [
        record(
            START + dt.timedelta(milliseconds=ms),
            key,
            "X",
            "analysis",
            hit=k > 0,
            cost_usd=0.01,
            latency_ms=400.0,
            cache_latency_ms=2.0,
        ).to_json()
        for k, (ms, key) in enumerate(times)
    ]
    path.write_text("\n".join(lines) + "\n")
    result = replay_file(
        str(path), SETTINGS, policy="flat", flat_ttl_seconds=1, llm_latency_ms=0, cache_latency_ms=5.0
    )
    t = result.totals
    assert (t.requests, t.hits, t.misses, t.stale_hits) == (5, 2, 3, None)
    assert t.cost_without_cache_usd == pytest.approx(0.05) and t.cost_with_cache_usd == pytest.approx(0.03)
    assert t.latency_without_cache_ms == 0 and t.latency_with_cache_ms == 25
    r = result.recorded
    assert r is not None and (r.hits, r.misses) == (4, 1)
    assert r.cost_with_cache_usd == pytest.approx(0.01) and r.latency_with_cache_ms == pytest.approx(10 + 400)
    assert [row.data_type for row in result.per_data_type] == ["analysis"]


def replay_error(path: Path, llm_latency_ms: int, cache_latency_ms: float) -> str:
    """The one-line UsageError that replaying ``path`` under a flat policy must raise."""
    with pytest.raises(UsageError) as info:
        replay_file(
            str(path),
            SETTINGS,
            policy="flat",
            flat_ttl_seconds=None,
            llm_latency_ms=llm_latency_ms,
            cache_latency_ms=cache_latency_ms,
        )
    return info.value.one_line()


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("not json", "line 2: not a JSON object"),
        ("[1, 2]", "line 2: not a JSON object"),
        ('{"key": "a:b:c", "hit": true, "cost_usd": 0}', "line 2: missing field 'ts'"),
        ('{"ts": "2025-06-02T10:00:00", "key": "a:b:c", "hit": true, "cost_usd": 0}', "line 2: ts must be"),
        ('{"ts": "yesterday", "key": "a:b:c", "hit": true, "cost_usd": 0}', "line 2: ts must be"),
        ('{"ts": "2025-06-02T10:00:00Z", "key": "", "hit": true, "cost_usd": 0}', "line 2: key must be"),
        ('{"ts": "2025-06-02T10:00:00Z", "key": "a:b:c", "hit": 1, "cost_usd": 0}', "line 2: hit must be"),
        (
            '{"ts": "2025-06-02T10:00:00Z", "key": "a:b:c", "hit": true, "cost_usd": -1}',
            "line 2: cost_usd must be",
        ),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, line: str, words: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(record(START, "a:stock:X:v1", "X", "analysis").to_json() + "\n" + line + "\n")
    assert words in replay_error(path, llm_latency_ms=500, cache_latency_ms=5.0)


def test_a_bad_line_in_the_second_half_is_numbered_from_the_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    good = record(START, "a:stock:X:v1", "X", "analysis", cost_usd=0.5).to_json()
    path.write_text("\n".join([good] * 300 + [good.replace("0.5", "-0.5")] + [good] * 5) + "\n")
    monkeypatch.setattr(trace_parse, "PARALLEL_MIN_BYTES", 1024)
    with pytest.raises(UsageError) as info:
        read_columns(str(path), "t")
    assert "t line 301: cost_usd must be a number >= 0" in info.value.one_line()


def test_missing_or_empty_trace(tmp_path: Path) -> None:
    for path, words in ((tmp_path / "nope.jsonl", "not found"), (tmp_path / "empty.jsonl", "no requests")):
        if words == "no requests":
            path.write_text("\n\n")
        assert words in replay_error(path, llm_latency_ms=0, cache_latency_ms=0)
