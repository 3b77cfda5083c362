"""Other ways to read a request trace into ``Columns``, measured against ``trace_parse`` by
``bench_simulate`` (the trace-reader decision): polars, pyarrow, and plain ``json`` per line.

Each gives the replay what ``trace_parse.read_columns`` gives it (keys numbered in order of
first appearance, so the replay's output is the same). A line either library cannot take as
the library writes it (a missing or null field, a time they do not parse, a negative or
non-finite number) sends the whole file to the plain reader, which words the error. The
libraries coerce some things the plain reader refuses (a number as a key, an object as a
symbol, a repeated field); a reader in the package would need guards for those, which would
cost time: the figures here are a lower bound for polars and pyarrow.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llmcache_cli.keys import data_type_of, parse_key
from llmcache_cli.simulation.trace_lines import Line, parse_line, parse_ts
from llmcache_cli.simulation.trace_parse import Columns

STRINGS = ("ts", "key", "symbol", "data_type", "model")
NUMBERS = ("cost_usd", "latency_ms", "cache_latency_ms")
TOKENS = ("input_tokens", "output_tokens")


class Unsure(Exception):
    """The library read something the plain reader must judge."""


def json_columns(path: str, where: str, want_tokens: bool = False) -> Columns:
    """One ``json.loads`` per line (``trace_lines.parse_line``): the reference, and the errors."""
    lines: list[Line] = []
    offsets: list[int] = []
    offset = count = 0
    with open(path, "rb") as handle:
        for count, raw in enumerate(handle, start=1):
            line = parse_line(raw, where, count)
            if line is not None:
                lines.append(line)
                offsets.append(offset)
            offset += len(raw)
    ids: dict[str, int] = {}
    first: list[Line] = []
    key_id = np.empty(len(lines), dtype=np.int64)
    for i, line in enumerate(lines):
        k = ids.get(line.key)
        if k is None:
            k = ids[line.key] = len(first)
            first.append(line)
        key_id[i] = k

    def column(name: str, dtype: Any) -> np.ndarray:
        return np.array([getattr(line, name) for line in lines], dtype=dtype)

    return Columns(
        offset=np.array(offsets, dtype=np.int64),
        t_ms=column("t_ms", np.int64),
        key_id=key_id,
        hit=column("hit", bool),
        cost_usd=column("cost_usd", np.float64),
        latency_ms=column("latency_ms", np.float64),
        cache_latency_ms=column("cache_latency_ms", np.float64),
        input_tokens=column("input_tokens", np.float64) if want_tokens else np.zeros(len(lines)),
        output_tokens=column("output_tokens", np.float64) if want_tokens else np.zeros(len(lines)),
        keys=[line.key for line in first],
        key_symbol=[line.symbol for line in first],
        key_type=[line.data_type for line in first],
        lines=count,
        fast_lines=0,
    )


def _finish(
    n: int,
    ts: list[str] | None,
    t_us: np.ndarray,
    t_valid: np.ndarray,
    codes: np.ndarray,
    first_rows: Any,
    numbers: dict[str, np.ndarray],
    hit: np.ndarray,
    tokens: dict[str, np.ndarray],
    want_tokens: bool,
) -> Columns:
    """The library-neutral end: times the library did not parse, key ids, checks."""
    t_ms = t_us // 1000
    if not bool(t_valid.all()):
        assert ts is not None
        for i in np.flatnonzero(~t_valid).tolist():
            ms = parse_ts(ts[i])
            if ms is None:
                raise Unsure
            t_ms[i] = ms
    for values in numbers.values():
        if not bool(((values >= 0) & np.isfinite(values)).all()):
            raise Unsure
    if want_tokens:
        for values in tokens.values():
            if bool((values < 0).any()):
                raise Unsure
    uniq, first = np.unique(codes, return_index=True)
    order = np.argsort(first)
    remap = np.empty(uniq.size, dtype=np.int64)
    remap[order] = np.arange(uniq.size)
    key_id = remap[np.searchsorted(uniq, codes)]
    rows = first[order]
    keys, symbols, types = first_rows(rows)
    if any(not k for k in keys):
        raise Unsure
    zeros = np.zeros(n)
    return Columns(
        offset=np.zeros(n, dtype=np.int64),  # not known: only the plain reader tells
        t_ms=t_ms,
        key_id=key_id,
        hit=hit,
        **numbers,
        input_tokens=tokens["input_tokens"] if want_tokens else zeros,
        output_tokens=tokens["output_tokens"] if want_tokens else zeros,
        keys=keys,
        key_symbol=symbols,
        key_type=[
            data_type_of(d if d is not None else _namespace(k)) for k, d in zip(keys, types, strict=True)
        ],
        lines=n,
        fast_lines=n,
    )


def _namespace(key: str) -> str:
    parsed = parse_key(key)
    return parsed.namespace if parsed else "analysis"


def polars_columns(path: str, where: str, want_tokens: bool = False) -> Columns:
    try:
        return _polars(path, want_tokens)
    except Unsure:
        return json_columns(path, where, want_tokens)
    except Exception as exc:  # polars' own errors: the plain reader says which line
        if type(exc).__module__.startswith("polars"):
            return json_columns(path, where, want_tokens)
        raise


def _polars(path: str, want_tokens: bool) -> Columns:
    import polars as pl

    schema: dict[str, Any] = {
        "ts": pl.String,
        "key": pl.String,
        "symbol": pl.String,
        "data_type": pl.String,
        "hit": pl.Boolean,
        **dict.fromkeys(NUMBERS, pl.Float64),
    }
    if want_tokens:
        schema.update(dict.fromkeys(TOKENS, pl.Int64))
    stamp = pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", strict=False)
    frame = (
        pl.scan_ndjson(path, schema=schema)
        .with_columns(t_us=stamp.dt.epoch("us"), code=pl.col("key").cast(pl.Categorical).to_physical())
        .collect()
    )
    for name in ("ts", "key", "hit", "cost_usd"):
        if frame.get_column(name).null_count():
            raise Unsure
    t_column = frame.get_column("t_us")
    t_valid = t_column.is_not_null().to_numpy()
    t_us = t_column.fill_null(0).to_numpy().astype(np.int64)
    codes = frame.get_column("code").to_numpy().astype(np.int64)
    ts = frame.get_column("ts")

    def first_rows(rows: np.ndarray) -> tuple[list[str], list[str | None], list[str | None]]:
        sub = frame[rows.tolist()]
        return (
            sub.get_column("key").to_list(),
            sub.get_column("symbol").to_list(),
            sub.get_column("data_type").to_list(),
        )

    numbers = {name: frame.get_column(name).fill_null(0.0).to_numpy().astype(np.float64) for name in NUMBERS}
    tokens = {
        name: frame.get_column(name).cast(pl.Float64).fill_null(math.nan).to_numpy()
        for name in TOKENS
        if want_tokens
    }
    return _finish(
        frame.height,
        None if bool(t_valid.all()) else ts.to_list(),
        t_us,
        t_valid,
        codes,
        first_rows,
        numbers,
        frame.get_column("hit").to_numpy(),
        tokens,
        want_tokens,
    )


def pyarrow_columns(path: str, where: str, want_tokens: bool = False) -> Columns:
    try:
        return _pyarrow(path, want_tokens)
    except Unsure:
        return json_columns(path, where, want_tokens)
    except Exception as exc:  # pyarrow's own errors: the plain reader says which line
        if type(exc).__module__.startswith("pyarrow"):
            return json_columns(path, where, want_tokens)
        raise


def _pyarrow(path: str, want_tokens: bool) -> Columns:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    fields = [(name, pa.string()) for name in STRINGS[:4]] + [("hit", pa.bool_())]
    fields += [(name, pa.float64()) for name in NUMBERS]
    if want_tokens:
        fields += [(name, pa.int64()) for name in TOKENS]
    options = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
    table = pj.read_json(path, parse_options=options)
    for name in ("ts", "key", "hit", "cost_usd"):
        if table.column(name).null_count:
            raise Unsure
    ts = table.column("ts")
    try:
        stamps = ts.cast(pa.timestamp("us", tz="UTC"))
        t_us = stamps.cast(pa.int64()).to_numpy()
        t_valid = np.ones(t_us.size, dtype=bool)
        texts = None
    except pa.ArrowInvalid:
        texts = ts.to_pylist()
        t_us = np.zeros(len(texts), dtype=np.int64)
        t_valid = np.zeros(len(texts), dtype=bool)
    codes = pc.dictionary_encode(table.column("key").combine_chunks()).indices.to_numpy().astype(np.int64)

    def first_rows(rows: np.ndarray) -> tuple[list[str], list[str | None], list[str | None]]:
        sub = table.take(pa.array(rows))
        return (
            sub.column("key").to_pylist(),
            sub.column("symbol").to_pylist(),
            sub.column("data_type").to_pylist(),
        )

    numbers = {name: pc.fill_null(table.column(name), 0.0).to_numpy().astype(np.float64) for name in NUMBERS}
    tokens = {
        name: pc.fill_null(table.column(name).cast(pa.float64()), math.nan).to_numpy()
        for name in TOKENS
        if want_tokens
    }
    return _finish(
        table.num_rows,
        texts,
        t_us,
        t_valid,
        codes,
        first_rows,
        numbers,
        table.column("hit").to_numpy(),
        tokens,
        want_tokens,
    )


READERS = {"polars": polars_columns, "pyarrow": pyarrow_columns, "json": json_columns}
