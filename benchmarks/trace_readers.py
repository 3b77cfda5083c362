"""The trace readers ``bench_simulate`` measures against the package's (the trace-reader
decision): pyarrow, and the hand-written numpy reader the package had before polars.

- ``pyarrow_columns``: ``pyarrow.json`` with the same schema, giving the replay what
  ``trace_columns.read_columns`` gives it. A lower bound: it has none of the polars reader's
  checks (a doubt sends the file to the plain reader, as there).
- The numpy reader (``trace_parse``, ``trace_layout``, ``trace_bytes``, 980 lines) lives in the
  git history: ``numpy_tree`` extracts the whole package as it was just before the commit that
  deleted ``trace_parse.py``, so that the bench replays with it in a child process. Without the
  history (a shallow clone) that row is left out.
"""

from __future__ import annotations

import math
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from llmcache_cli.keys import data_type_of, parse_key
from llmcache_cli.simulation.trace_columns import NUMBERS, TOKENS, Columns, read_plain
from llmcache_cli.simulation.trace_lines import parse_ts

NUMPY_READER_COMMIT = "d4695d14df1a298eda93c80c7d73512424dc87d3"  # the last one with trace_parse


def numpy_tree(into: str) -> str | None:
    """The package and benchmarks as they were with the numpy reader, under ``into``; None
    without the git history."""
    root = Path(__file__).resolve().parent.parent
    archive = Path(into) / "numpy-reader.tar"
    done = subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "archive",
            "-o",
            str(archive),
            NUMPY_READER_COMMIT,
            "llmcache_cli",
            "benchmarks",
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    tree = Path(into) / "numpy-reader"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return str(tree)


def pyarrow_columns(path: str, where: str, reader: str | None = None) -> Columns:
    try:
        return _pyarrow(path)
    except _Unsure:
        return read_plain(path, where)
    except Exception as exc:  # pyarrow's own errors: the plain reader says which line
        if type(exc).__module__.startswith("pyarrow"):
            return read_plain(path, where)
        raise


class _Unsure(Exception):
    pass


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
