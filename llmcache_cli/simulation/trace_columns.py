"""Read a request trace into columns: with polars when it is installed (the ``fast`` extra),
else one ``json.loads`` per line.

``trace_lines.parse_line`` defines what a valid line is and words the errors, with the line
number. The polars reader takes the file in one go; anything it does not take exactly as
``parse_line`` would (a line that is not a JSON object or not UTF-8, a missing or null field, a
number, true or false of the wrong kind, a time it does not read the same way, a negative or
non-finite number, an empty key, a lone surrogate escape) sends the whole file to the plain
reader, which then names the line or, if the line is valid after all, reads it. So both readers
give the same columns and the same error for a bad line; the tests check it on both. Two
differences remain, in lines no producer of traces writes: polars takes a number, true, false,
an array or an object where a text field belongs (``key``, ``symbol``, ``data_type``, ``model``,
``ts``) as its JSON text, where the plain reader refuses the line; and of a field given twice in
one line, polars keeps the first and ``json`` the last.

The choice of polars was measured (``benchmarks/bench_simulate.py``, the trace-reader decision):
it replays the bench trace about as fast as the hand-written numpy reader it replaced.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmcache_cli.keys import data_type_of, parse_key
from llmcache_cli.simulation.trace_lines import Line, parse_line, parse_ts

READERS = ("polars", "json")
PREFERRED = "polars"  # used when installed
PLAIN_BELOW_BYTES = 1 << 20  # smaller files (about 3,500 lines) read faster than polars imports
NUMBERS = ("cost_usd", "latency_ms", "cache_latency_ms")
TOKENS = ("input_tokens", "output_tokens")
# The times both polars and ``datetime.fromisoformat`` read alike (the library writes these);
# any other time is read by ``parse_ts``.
ISO_TIME = r"^\d{4}-\d\d-\d\dT\d\d:[0-5]\d:[0-5]\d(\.\d{1,6})?[+-]\d\d:\d\d$"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"


@dataclass
class Columns:
    """One value per record (blank lines dropped), in file order; keys numbered in order of
    first appearance, with the symbol and data type of their first record."""

    t_ms: np.ndarray  # int64
    key_id: np.ndarray  # int64 into keys
    hit: np.ndarray  # bool
    cost_usd: np.ndarray  # float64
    latency_ms: np.ndarray
    cache_latency_ms: np.ndarray
    input_tokens: np.ndarray  # float64, NaN when null
    output_tokens: np.ndarray
    model: Sequence[str | None]  # per record
    keys: list[str]
    key_symbol: list[str | None]
    key_type: list[str]
    reader: str  # which reader read it: polars or json

    @property
    def size(self) -> int:
        return int(self.t_ms.size)


def read_columns(path: str, where: str, reader: str | None = None) -> Columns:
    """The trace's records; ``reader``: ``polars``, ``json``, or None: polars when installed and
    the file is not small."""
    if reader == "polars" or (reader is None and PREFERRED == "polars" and _size(path) >= PLAIN_BELOW_BYTES):
        try:
            import polars  # noqa: F401
        except ImportError:
            pass
        else:
            columns = _read_polars(path)
            if columns is not None:
                return columns
    return read_plain(path, where)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # the plain reader says why it cannot read it


def read_plain(path: str, where: str) -> Columns:
    """One ``parse_line`` per line."""
    lines: list[Line] = []
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            line = parse_line(raw, where, line_no)
            if line is not None:
                lines.append(line)
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
        t_ms=column("t_ms", np.int64),
        key_id=key_id,
        hit=column("hit", bool),
        **{name: column(name, np.float64) for name in (*NUMBERS, *TOKENS)},
        model=[line.model for line in lines],
        keys=[line.key for line in first],
        key_symbol=[line.symbol for line in first],
        key_type=[line.data_type for line in first],
        reader="json",
    )


class _Unsure(Exception):
    """A value polars read that ``parse_line`` must judge."""


def _read_polars(path: str) -> Columns | None:
    """The columns, or None when the plain reader must look at the file."""
    import polars as pl

    try:
        return _polars_columns(pl, path)
    except (_Unsure, pl.exceptions.PolarsError):
        return None


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


def _namespace(key: str) -> str:
    parsed = parse_key(key)
    return parsed.namespace if parsed else "analysis"
