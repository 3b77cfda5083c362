"""Trace replay: both readers (the numpy reader, plain json) against ``json.loads``, the fast
replay against the reference, errors with line numbers on both readers, and a case by hand."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest

from llmcache_cli.cache.trace import TRACE_FIELDS, TraceRecord
from llmcache_cli.errors import UsageError
from llmcache_cli.market import NY, MarketCalendar
from llmcache_cli.simulation import trace_keys, trace_parse
from llmcache_cli.simulation.reference_engine import Cache, Request
from llmcache_cli.simulation.replay import replay, replay_file, request_costs
from llmcache_cli.simulation.summary import to_json
from llmcache_cli.simulation.trace_columns import Columns
from llmcache_cli.simulation.trace_lines import parse_line
from llmcache_cli.simulation.trace_parse import read_columns
from llmcache_cli.ttl_policy import TTLPolicy, make_policy
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
    lines: list,
    policy: TTLPolicy,
    latency_ms: int,  # type: ignore[type-arg]
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


@pytest.fixture(params=trace_parse.READERS)
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test that takes it runs with either reader: the numpy one (the package's) and the
    plain one (``json`` per line)."""
    monkeypatch.setattr(trace_parse, "PREFERRED", request.param)
    return str(request.param)


def assert_same_columns(columns: Columns, expected: Columns) -> None:
    assert columns.size == expected.size
    assert columns.keys == expected.keys
    assert columns.key_symbol == expected.key_symbol and columns.key_type == expected.key_type
    assert np.array_equal(columns.key_id, expected.key_id)
    for name in COLUMNS:
        assert np.array_equal(
            np.asarray(list(getattr(columns, name)), dtype=float),
            np.asarray(list(getattr(expected, name)), dtype=float),
            equal_nan=True,
        ), name
    assert list(columns.model) == list(expected.model)


def assert_reader_agrees(path: Path, text: list[str], took: str, fast_share: float = 0.0) -> Columns:
    """The preferred reader's columns for ``path`` equal what json.loads makes of each line,
    with the token counts read at once or when asked; ``took``: which reader read it;
    ``fast_share``: the share of lines the numpy reader must have decoded itself."""
    columns = read_columns(str(path), "trace")
    assert columns.reader == took
    assert columns.fast_lines >= fast_share * columns.size
    expected = slow_lines(text)
    assert columns.size == len(expected)
    assert [columns.keys[k] for k in columns.key_id.tolist()] == [line.key for line in expected]
    assert columns.keys == list(dict.fromkeys(line.key for line in expected))  # numbered as first seen
    for name in COLUMNS:
        assert np.array_equal(
            getattr(columns, name), [getattr(line, name) for line in expected], equal_nan=True
        ), name
    assert list(columns.model) == [line.model for line in expected]
    for k, key in enumerate(columns.keys):
        line = next(line for line in expected if line.key == key)
        assert (columns.key_symbol[k], columns.key_type[k]) == (line.symbol, line.data_type)
    assert_same_columns(read_columns(str(path), "trace", want_tokens=False), columns)
    return columns


@pytest.mark.parametrize("seed", range(4))
def test_readers_agree_with_json_loads(
    tmp_path: Path, seed: int, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library's lines and hand-written ones (other field order, spaces, Z times, offsets,
    blank lines), in blocks of 4 kB and 8 MB: the numpy reader decodes most itself."""
    path = tmp_path / "trace.jsonl"
    text = random_trace(path, seed)
    monkeypatch.setattr(trace_parse, "BLOCK_BYTES", 4096 if seed % 2 else trace_parse.BLOCK_BYTES)
    assert_reader_agrees(path, text, reader, 0.8 if reader == "numpy" else 0.0)


def uniform_trace(
    path: Path, seed: int, symbol: bool, model: bool, lines: int = 3000, near: float = 0.0
) -> list[str]:
    """Only the library's lines, all with one layout (symbol and model given or null), as one
    bot writes them: keys of many lengths (up to past the numpy reader's key limit), new keys
    arriving late, values of every form; ``near``: the share of hits served from the near
    cache (their lines end with ``"near":true``)."""
    rnd = random.Random(seed)
    names = ["A", "MSFT", "BRK.B", "X" * 13, "Y" * 40, "Z" * 90, "W" * 300]
    at, out = START, []
    for k in range(lines):
        at += dt.timedelta(microseconds=rnd.choice((0, 137, 250_000, 60_000_000, 3_600_000_000)))
        limit = 2 if k < lines // 3 else len(names)
        name = rnd.choice(names[:limit]) + str(rnd.randrange(30))
        data_type = rnd.choice(("technical", "analysis"))
        hit = rnd.random() < 0.7
        rec = record(
            at,
            f"{data_type}:stock:{name}:v1",
            name if symbol else None,
            data_type,
            hit=hit,
            model="claude-sonnet-4-5" if model else None,
            input_tokens=rnd.choice((1200, 7, None, 123456)),
            output_tokens=rnd.choice((300, 0)),
            cost_usd=rnd.choice((0.0081, 0.25, 0, 12.5, 1.5e-05, 0.000123)),
            latency_ms=rnd.choice((512.25, 0, 12345.5, 99999999.5, 7)),
            cache_latency_ms=rnd.choice((1.5, 0.0, 3)),
            ttl_seconds=None if hit else rnd.choice((3600, 60, 86400)),
            near=hit and rnd.random() < near,
        )
        out.append(rec.to_json())
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return out


def long_keys(text: list[str]) -> int:
    """Lines whose key is longer than the numpy reader takes (it hands them to json)."""
    return sum(len(line.key.encode()) > trace_keys.MAX_FAST_KEY for line in slow_lines(text))


@pytest.mark.parametrize(("symbol", "model"), [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("block", [4096, 1 << 16])
def test_readers_agree_on_the_librarys_lines(
    tmp_path: Path, symbol: bool, model: bool, block: int, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line as the library writes it: the numpy reader decodes all but those with a key
    longer than its limit (300 bytes and more, a few percent here)."""
    path = tmp_path / "trace.jsonl"
    text = uniform_trace(path, block + 2 * symbol + model, symbol, model)
    monkeypatch.setattr(trace_parse, "BLOCK_BYTES", block)
    columns = assert_reader_agrees(path, text, reader)
    if reader == "numpy":
        assert columns.fast_lines == len(text) - long_keys(text)


@pytest.mark.parametrize(("symbol", "model"), [(True, True), (False, False)])
@pytest.mark.parametrize("near", [0.3, 1.0])
def test_near_hits_read_alike(tmp_path: Path, symbol: bool, model: bool, near: float) -> None:
    """Lines with ``near`` (written only on near-cache hits), mixed with others or on every
    hit: the same columns and the same replay on both readers, and the numpy reader decodes
    the near lines itself (only the over-long keys go to json)."""
    path = tmp_path / "trace.jsonl"
    text = uniform_trace(path, int(10 * near) + symbol, symbol, model, near=near)
    assert sum('"near":true}' in line for line in text) > 0.2 * len(text)
    numpy_columns = read_columns(str(path), "trace", "numpy")
    assert numpy_columns.fast_lines == len(text) - long_keys(text)
    assert_same_columns(numpy_columns, read_columns(str(path), "trace", "json"))
    results = {}
    for name in trace_parse.READERS:
        trace_parse.PREFERRED = name
        try:
            result = replay_file(
                str(path),
                SETTINGS,
                policy="market-aware",
                flat_ttl_seconds=None,
                llm_latency_ms=500,
                cache_latency_ms=1.0,
            )
        finally:
            trace_parse.PREFERRED = "numpy"
        assert result.parameters["reader"] == name
        results[name] = to_json(result)
        results[name]["parameters"].pop("reader")
    assert results["numpy"] == results["json"]
    assert results["numpy"]["requests"] == len(text)


def test_the_layout_follows_trace_fields(tmp_path: Path) -> None:
    """The numpy reader knows the library's lines by ``TRACE_FIELDS`` (the order
    ``TraceRecord.to_json`` writes): lines written in another order go to json, one by one."""
    assert list(json.loads(record(START, "a:stock:X:v1", "X", "analysis", near=True).to_json())) == list(
        TRACE_FIELDS
    )
    path = tmp_path / "trace.jsonl"
    text = uniform_trace(path, 3, True, True, lines=200, near=0.5)
    swapped = [json.dumps(dict(reversed(json.loads(line).items())), separators=(",", ":")) for line in text]
    path.write_text("\n".join(swapped) + "\n")
    columns = assert_reader_agrees(path, swapped, "numpy")
    assert columns.fast_lines == 0


GOOD = '{"ts":"2025-06-02T13:30:00+00:00","key":"a:stock:X:v1","hit":false,"cost_usd":0.5}'


@pytest.mark.parametrize(
    "odd",
    [
        '{"ts":"2025-06-02T13:30:00.1234567+00:00","key":"a:stock:X:v1","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02 13:30:00+00:00","key":"a:stock:X:v1","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02T13:30+0000","key":"a:stock:X:v1","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02T13:30:00.+00:00","key":"a:stock:X:v1","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02T13:30:00z","key":"a:stock:X:v1","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02T09:30:00-04:00","key":"a:stock:\\u00e9:v1","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02T13:30:00Z","key":"a:stock:\\u0000:v1","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02T13:30:00Z","key":"a:stock:Y\\ud800","hit":true,"cost_usd":1}',
        '{"ts":"2025-06-02T13:30:00Z","key":"a:stock:Y:v1","hit":true,"cost_usd":1,"model":"m\\ud800"}',
        '{"ts":"2025-06-02T13:30:00Z","key":"a:stock:Y:v1","hit":true,"cost_usd":1,"extra":[1,{"a":null}]}',
        '{"ts":"2025-06-02T13:30:00Z","key":"a:stock:Y:v1","hit":true,"cost_usd":1,"symbol":null,"data_type":null}',
        '{"ts":"2025-06-02T13:30:00Z","key":"a:stock:Y:v1","hit":true,"cost_usd":1e-300,"latency_ms":12}',
        '   {"key":"a:stock:Y:v1","hit":true,"cost_usd":1,"ts":"2025-06-02T13:30:00Z"}   ',
        '{"ts":"2025-06-02T13:30:00Z","key":"a:stock:Y:v1","hit":true,"cost_usd":1,"input_tokens":1180591620717411303424}',
        "",
        "\t",
    ],
)
def test_readers_agree_on_odd_valid_lines(tmp_path: Path, odd: str, reader: str) -> None:
    """Valid lines not laid out as the library writes them (the numpy reader hands them to
    json), with CRLF line ends: the plain reader's result either way."""
    path = tmp_path / "trace.jsonl"
    text = [GOOD, odd, GOOD]
    path.write_bytes(("\r\n".join(text) + "\r\n").encode())
    assert_reader_agrees(path, text, reader)


LIBRARY_LINE = record(START, "a:stock:X:v1", "X", "analysis", cost_usd=0.5, latency_ms=850.25).to_json()


def variant(old: str, new: str) -> str:
    assert old in LIBRARY_LINE
    return LIBRARY_LINE.replace(old, new)


@pytest.mark.parametrize(
    "line",
    [
        # valid: the numpy reader decodes them or hands them to json
        variant('"ttl_seconds":3600', '"ttl_seconds":1.5'),
        variant('"ttl_seconds":3600', '"ttl_seconds":-1'),
        variant('"ttl_seconds":3600', '"ttl_seconds":true'),
        variant('"ttl_seconds":3600', '"ttl_seconds":null'),
        variant('"ttl_seconds":3600}', '"ttl_seconds":3600,"near":false}'),
        variant('"ttl_seconds":3600}', '"ttl_seconds":null,"near":true}'),
        variant('"cost_usd":0.5', '"cost_usd":5E-1'),
        variant('"cost_usd":0.5', '"cost_usd":1e-300'),
        variant('"cost_usd":0.5', '"cost_usd":0'),
        variant('"latency_ms":850.25', '"latency_ms":12345678901234.5'),
        variant('"input_tokens":1200', '"input_tokens":1180591620717411303424'),
        variant('"input_tokens":1200', '"input_tokens":-0'),
        variant(":stock:X:", ":stock:caf\u00e9:"),
        variant('"cost_usd":0.5', '"cost_usd":\t0.5'),
        variant('"hit":false', '"hit": false\r'),
        # not valid: the same error, on line 2
        variant('"hit":false', '"hit":fals3'),
        variant('"hit":false', '"hit":nope!'),
        variant('"symbol":"X"', '"symbol":nul1'),
        variant('"input_tokens":1200', '"input_tokens":1.0'),
        variant('"input_tokens":1200', '"input_tokens":1e3'),
        variant('"input_tokens":1200', '"input_tokens":012'),
        variant('"cost_usd":0.5', '"cost_usd":01'),
        variant('"cost_usd":0.5', '"cost_usd":1.'),
        variant('"cost_usd":0.5', '"cost_usd":.5'),
        variant('"cost_usd":0.5', '"cost_usd":-0.5'),
        variant('"cost_usd":0.5', '"cost_usd":-1'),
        variant('"cost_usd":0.5', '"cost_usd":1e400'),
        variant('"cost_usd":0.5', '"cost_usd":1_000'),
        variant('"latency_ms":850.25', '"latency_ms":-850.25'),
        variant('"ttl_seconds":3600', '"ttl_seconds":36x0'),
        variant('"ttl_seconds":3600}', '"ttl_seconds":3600,"near":ture}'),
        variant(":stock:X:", ":stock:X\t:"),
        variant('"model":"claude', '"model":"cl\x01aude'),
        variant('"namespace":"a"', '"namespace":"a\r"'),
        variant("+00:00", "+24:00"),
        variant("13:30:00", "13:30:60"),
    ],
)
def test_a_line_in_the_librarys_layout_reads_alike(tmp_path: Path, line: str) -> None:
    """Lines laid out as the library writes them, with a value changed: both readers give the
    same columns, or the same one-line error naming line 2."""
    path = tmp_path / "t.jsonl"
    path.write_text(LIBRARY_LINE + "\n" + line + "\n" + LIBRARY_LINE + "\n")
    outcomes = []
    for name in trace_parse.READERS:
        try:
            outcomes.append(read_columns(str(path), "t", name))
        except UsageError as exc:
            outcomes.append(exc.one_line())
    numpy_outcome, json_outcome = outcomes
    if isinstance(json_outcome, str):
        assert numpy_outcome == json_outcome and "t line 2: " in json_outcome
    else:
        assert isinstance(numpy_outcome, Columns)
        assert_same_columns(numpy_outcome, json_outcome)


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
    tmp_path: Path, seed: int, policy: str, ttl: int | None, latency_ms: int, sorted_times: bool, reader: str
) -> None:
    path = tmp_path / "trace.jsonl"
    text = random_trace(path, seed, sorted_times=sorted_times)
    calendar = MarketCalendar()
    ttl_policy = make_policy(SETTINGS, policy, calendar=calendar, flat_seconds=ttl)
    columns = read_columns(str(path), "trace")
    assert columns.reader == reader
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
def test_a_bad_line_is_named(tmp_path: Path, line: str, words: str, reader: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(record(START, "a:stock:X:v1", "X", "analysis").to_json() + "\n" + line + "\n")
    assert words in replay_error(path, llm_latency_ms=500, cache_latency_ms=5.0)


def ok_line(**fields: object) -> str:
    base: dict[str, object] = {"ts": "2025-06-02T13:30:00+00:00", "key": "a:stock:X:v1", "hit": True}
    base["cost_usd"] = 0.5
    return json.dumps({**base, **fields}, separators=(",", ":"))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (ok_line(ts="2025-06-02T13:30:60+00:00"), "ts must be"),
        (ok_line(ts="+2025-06-02T13:30:00+00:00"), "ts must be"),
        (ok_line(ts="2025-6-2T13:30:00+00:00"), "ts must be"),
        (ok_line(ts="2025-06-02T13:30:00+24:00"), "ts must be"),
        (ok_line(ts=None), "ts must be"),
        (ok_line(key=None), "key must be"),
        (ok_line(hit=None), "hit must be"),
        (ok_line(hit="true"), "hit must be"),
        (ok_line(cost_usd=None), "cost_usd must be"),
        (ok_line(cost_usd="0.5"), "cost_usd must be"),
        (ok_line(cost_usd=True), "cost_usd must be"),
        (ok_line(latency_ms=-0.5), "latency_ms must be"),
        (ok_line(cache_latency_ms=-1), "cache_latency_ms must be"),
        (ok_line(input_tokens=1.5), "input_tokens must be a whole number"),
        (ok_line(input_tokens=1.0), "input_tokens must be a whole number"),
        (ok_line(output_tokens=-3), "output_tokens must be a whole number"),
        (ok_line(output_tokens=False), "output_tokens must be a whole number"),
        (ok_line()[:-1] + ',"cost_usd":NaN}', "cost_usd must be"),
        (ok_line()[:-1] + ',"latency_ms":Infinity}', "latency_ms must be"),
        (ok_line() + " trailing", "not a JSON object"),
        ('{"ts":"2025-06-02T13:30:00Z","key":"\\udc00","hit":true,"cost_usd":1}', None),
    ],
)
def test_a_bad_line_is_named_alike(tmp_path: Path, line: str, words: str | None, reader: str) -> None:
    """Hand-written lines with a value of the wrong kind or form: the plain reader's one line.
    (A lone low surrogate is valid JSON to ``json``: that trace replays, on either reader.)"""
    path = tmp_path / "t.jsonl"
    path.write_text(ok_line() + "\n" + line + "\n")
    if words is None:
        assert read_columns(str(path), "t").keys[-1] == "\udc00"
        return
    assert f"line 2: {words}" in replay_error(path, llm_latency_ms=500, cache_latency_ms=5.0)


@pytest.mark.parametrize("model", ["caf\u00e9-model", "\u6a21\u578b"])
def test_text_in_utf8_is_read(tmp_path: Path, model: str, reader: str) -> None:
    path = tmp_path / "t.jsonl"
    line = record(START, "a:stock:X:v1", "X", "analysis", model=model).to_json()
    path.write_bytes((LIBRARY_LINE + "\n" + line + "\n").encode())
    assert list(read_columns(str(path), "t").model) == ["claude-sonnet-4-5", model]


def test_bytes_that_are_not_utf8_in_the_librarys_layout_are_named(tmp_path: Path, reader: str) -> None:
    """A model name with a Latin-1 byte, in a line otherwise as the library writes it."""
    path = tmp_path / "t.jsonl"
    line = record(START, "a:stock:X:v1", "X", "analysis", model="caf\u00e9").to_json().encode()
    path.write_bytes(LIBRARY_LINE.encode() + b"\n" + line.replace(b"\xc3\xa9", b"\xe9") + b"\n")
    assert "line 2: not UTF-8 text" in replay_error(path, llm_latency_ms=0, cache_latency_ms=0)


def test_bad_bytes_are_named(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(ok_line().encode() + b"\n" + ok_line(key="caf\u00e9").encode("latin-1") + b"\n")
    path.write_bytes(path.read_bytes().replace(b"\\u00e9", b"\xe9"))
    assert "line 2: not UTF-8 text" in replay_error(path, llm_latency_ms=0, cache_latency_ms=0)


def test_a_bad_line_far_down_is_numbered_from_the_top(tmp_path: Path, reader: str) -> None:
    """Blank lines counted too."""
    path = tmp_path / "t.jsonl"
    good = record(START, "a:stock:X:v1", "X", "analysis", cost_usd=0.5).to_json()
    path.write_text("\n".join([good] * 300 + ["", good.replace("0.5", "-0.5")] + [good] * 5) + "\n")
    with pytest.raises(UsageError) as info:
        read_columns(str(path), "t")
    assert "t line 302: cost_usd must be a number >= 0" in info.value.one_line()


def test_missing_or_empty_trace(tmp_path: Path, reader: str) -> None:
    for path, words in ((tmp_path / "nope.jsonl", "not found"), (tmp_path / "empty.jsonl", "no requests")):
        if words == "no requests":
            path.write_text("\n\n")
        assert words in replay_error(path, llm_latency_ms=0, cache_latency_ms=0)


def test_the_numpy_reader_survives_hash_collisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key hashing alike: keys are still told apart byte for byte."""
    path = tmp_path / "trace.jsonl"
    text = uniform_trace(path, 5, True, True, lines=1500)
    monkeypatch.setattr(trace_parse, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(trace_keys, "HASH_WORDS", np.zeros_like(trace_keys.HASH_WORDS))
    assert assert_reader_agrees(path, text, "numpy").fast_lines == len(text) - long_keys(text)


def test_two_processes_read_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large file is read by two processes, one per half: the same columns as one process
    (keys first seen in the second half numbered after the first half's)."""
    path = tmp_path / "trace.jsonl"
    random_trace(path, 11, lines=3000)
    single = read_columns(str(path), "trace")
    monkeypatch.setattr(trace_parse, "PARALLEL_MIN_BYTES", 1024)
    double = read_columns(str(path), "trace")
    assert double.fast_lines == single.fast_lines > 0
    assert_same_columns(double, single)
    assert_same_columns(double, read_columns(str(path), "trace", "json"))


def test_a_bad_line_in_the_second_half_is_numbered_from_the_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    good = record(START, "a:stock:X:v1", "X", "analysis", cost_usd=0.5).to_json()
    path.write_text("\n".join([good] * 300 + ["", good.replace("0.5", "-0.5")] + [good] * 5) + "\n")
    monkeypatch.setattr(trace_parse, "PARALLEL_MIN_BYTES", 1024)
    with pytest.raises(UsageError) as info:
        read_columns(str(path), "t")
    assert "t line 302: cost_usd must be a number >= 0" in info.value.one_line()


def test_the_first_bad_line_is_named(tmp_path: Path, reader: str) -> None:
    """A bad line the numpy reader decodes (a negative number) before one it hands to json:
    the first is named, as by the plain reader."""
    path = tmp_path / "t.jsonl"
    good = record(START, "a:stock:X:v1", "X", "analysis", cost_usd=0.5).to_json()
    path.write_text("\n".join([good] * 5 + [good.replace("0.5", "-1"), good] + ["not json"]) + "\n")
    with pytest.raises(UsageError) as info:
        read_columns(str(path), "t")
    assert info.value.one_line().startswith("t line 6: cost_usd must be a number >= 0, got -1")
