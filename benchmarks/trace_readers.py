"""The trace readers ``bench_simulate`` measures against the package's numpy reader
(``llmcache_cli.simulation.trace_parse``): the trace-reader decision.

- ``polars_columns``: ``polars.scan_ndjson`` with a schema, giving the replay what
  ``trace_parse.read_columns`` gives it. It sends any file it has a doubt about (a null or
  mistyped field, a time polars reads otherwise than ``datetime.fromisoformat``, a negative or
  non-finite number, an empty key, a lone surrogate escape) to the plain reader, which names the
  bad line. It was the package's reader for a while (the ``fast`` extra), until a quiet-machine
  ``make bench`` put it at 1.24x the numpy reader's time.
- ``pyarrow_columns``: ``pyarrow.json`` with the same schema. A lower bound: it has fewer of
  the checks (a doubt sends the file to the plain reader, as there).

Both come with the ``bench`` extra; the plain reader (``json`` per line) is the package's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from llmcache_cli.keys import data_type_of, parse_key
from llmcache_cli.simulation.trace_columns import NUMBERS, TOKENS, Columns, read_plain
from llmcache_cli.simulation.trace_lines import parse_ts

# The times both polars and ``datetime.fromisoformat`` read alike (the library writes these);
# any other time is read by ``parse_ts``.
ISO_TIME = r"^\d{4}-\d\d-\d\dT\d\d:[0-5]\d:[0-5]\d(\.\d{1,6})?[+-]\d\d:\d\d$"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"


class _Unsure(Exception):
    """A value a candidate read that ``parse_line`` must judge: the plain reader reads the file."""


def polars_columns(path: str, where: str, reader: str | None = None, want_tokens: bool = True) -> Columns:
    """The columns by polars, or by the plain reader when polars has a doubt about the file."""
    import polars as pl

    try:
        return _polars_columns(pl, path)
    except (_Unsure, pl.exceptions.PolarsError):
        return read_plain(path, where)


def _polars_columns(pl: Any, path: str) -> Columns:
    text = {name: pl.String for name in ("ts", "key", "symbol", "data_type", "model")}
    schema = {
        **text,
        "hit": pl.Boolean,
        **dict.fromkeys(NUMBERS, pl.Float64),
        **dict.fromkeys(TOKENS, pl.Int64),
    }
    ts = pl.col("ts")
    frame = (
        pl.scan_ndjson(path, schema=schema)
        .with_columns(
            t_us=pl.when(ts.str.contains(ISO_TIME))
            .then(ts.str.to_datetime(ISO_FORMAT, time_unit="us", strict=False).dt.epoch("us"))
            .otherwise(None),
            code=pl.col("key").cast(pl.Categorical).to_physical(),
        )
        .collect()
    )
    if frame.height == 0:
        raise _Unsure
    for name in ("ts", "key", "hit", "cost_usd"):
        if frame.get_column(name).null_count():
            raise _Unsure
    t_column = frame.get_column("t_us")
    t_ms = t_column.fill_null(0).to_numpy().astype(np.int64) // 1000
    if t_column.null_count():  # other forms of time: the plain reader's rule, per line
        texts = frame.get_column("ts")
        for i in np.flatnonzero(t_column.is_null().to_numpy()).tolist():
            ms = parse_ts(texts[i])
            if ms is None:
                raise _Unsure
            t_ms[i] = ms
    numbers = {name: frame.get_column(name).fill_null(0.0).to_numpy().astype(np.float64) for name in NUMBERS}
    for values in numbers.values():
        if not bool(((values >= 0) & np.isfinite(values)).all()):
            raise _Unsure
    tokens = {}
    for name in TOKENS:
        values = frame.get_column(name)
        if bool((values < 0).any()):
            raise _Unsure
        tokens[name] = values.cast(pl.Float64).fill_null(math.nan).to_numpy()
    codes = frame.get_column("code").to_numpy().astype(np.int64)
    unique, first = np.unique(codes, return_index=True)
    order = np.argsort(first)  # number the keys in order of first appearance
    renumber = np.empty(unique.size, dtype=np.int64)
    renumber[order] = np.arange(unique.size)
    firsts = frame[first[order].tolist()]
    keys = firsts.get_column("key").to_list()
    symbols = firsts.get_column("symbol").to_list()
    given_types = firsts.get_column("data_type").to_list()
    # polars reads a lone surrogate escape at the end of a string as NUL, json keeps it
    if not all(keys) or any("\x00" in v for v in (*keys, *symbols, *given_types) if v is not None):
        raise _Unsure
    if frame.get_column("model").str.contains("\x00", literal=True).any():
        raise _Unsure
    types = [d if d is not None else _namespace(k) for k, d in zip(keys, given_types, strict=True)]
    return Columns(
        t_ms=t_ms,
        key_id=renumber[np.searchsorted(unique, codes)],
        hit=frame.get_column("hit").to_numpy(),
        **numbers,
        **tokens,
        model=frame.get_column("model"),
        keys=keys,
        key_symbol=symbols,
        key_type=[data_type_of(d) for d in types],
        reader="polars",
    )


def pyarrow_columns(path: str, where: str, reader: str | None = None, want_tokens: bool = True) -> Columns:
    try:
        return _pyarrow(path)
    except _Unsure:
        return read_plain(path, where)
    except Exception as exc:  # pyarrow's own errors: the plain reader says which line
        if type(exc).__module__.startswith("pyarrow"):
            return read_plain(path, where)
        raise


def _pyarrow(path: str) -> Columns:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    fields = [(name, pa.string()) for name in ("ts", "key", "symbol", "data_type", "model")]
    fields += [("hit", pa.bool_())] + [(name, pa.float64()) for name in NUMBERS]
    fields += [(name, pa.int64()) for name in TOKENS]
    options = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
    table = pj.read_json(path, parse_options=options)
    for name in ("ts", "key", "hit", "cost_usd"):
        if table.column(name).null_count:
            raise _Unsure
    ts = table.column("ts")
    try:
        t_ms = ts.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy() // 1000
    except pa.ArrowInvalid:
        t_ms = np.array([parse_ts(text) for text in ts.to_pylist()], dtype=object)
        if any(ms is None for ms in t_ms):
            raise _Unsure from None
        t_ms = t_ms.astype(np.int64)
    numbers = {name: pc.fill_null(table.column(name), 0.0).to_numpy().astype(np.float64) for name in NUMBERS}
    for values in numbers.values():
        if not bool(((values >= 0) & np.isfinite(values)).all()):
            raise _Unsure
    tokens: dict[str, Any] = {
        name: pc.fill_null(table.column(name).cast(pa.float64()), math.nan).to_numpy() for name in TOKENS
    }
    codes = pc.dictionary_encode(table.column("key").combine_chunks()).indices.to_numpy().astype(np.int64)
    unique, first = np.unique(codes, return_index=True)
    order = np.argsort(first)
    renumber = np.empty(unique.size, dtype=np.int64)
    renumber[order] = np.arange(unique.size)
    firsts = table.take(pa.array(first[order]))
    keys = firsts.column("key").to_pylist()
    if not all(keys):
        raise _Unsure
    types = [
        d if d is not None else _namespace(k)
        for k, d in zip(keys, firsts.column("data_type").to_pylist(), strict=True)
    ]
    return Columns(
        t_ms=t_ms,
        key_id=renumber[np.searchsorted(unique, codes)],
        hit=table.column("hit").to_numpy(),
        **numbers,
        **tokens,
        model=_Values(table.column("model")),
        keys=keys,
        key_symbol=firsts.column("symbol").to_pylist(),
        key_type=[data_type_of(d) for d in types],
        reader="pyarrow",
    )


class _Values:
    """A pyarrow column read one value at a time (the replay reads a few)."""

    def __init__(self, column: Any) -> None:
        self.column = column

    def __getitem__(self, i: int) -> Any:
        return self.column[i].as_py()

    def __len__(self) -> int:
        return len(self.column)


def _namespace(key: str) -> str:
    parsed = parse_key(key)
    return parsed.namespace if parsed else "analysis"
