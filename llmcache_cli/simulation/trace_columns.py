"""A request trace as columns (``Columns``: what the replay reads), and the plain reader:
one ``trace_lines.parse_line`` (``json.loads`` and a check of every field) per line.

The package's reader is the numpy one (``trace_parse.read_columns``); it gives the same columns
and the same error for a bad line as this one, which it falls back on line by line and runs
whole when asked for ``json`` (the tests and the bench compare the two).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from llmcache_cli.simulation.trace_lines import Line, parse_line

NUMBERS = ("cost_usd", "latency_ms", "cache_latency_ms")
TOKENS = ("input_tokens", "output_tokens")


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
    # float64, NaN when null; the numpy reader reads them from the lines when asked, unless
    # told they are wanted (trace_parse.read_columns)
    input_tokens: np.ndarray | Sequence[float]
    output_tokens: np.ndarray | Sequence[float]
    model: Sequence[str | None]  # per record
    keys: list[str]
    key_symbol: list[str | None]
    key_type: list[str]
    reader: str  # which reader read it: numpy or json
    fast_lines: int = 0  # lines the numpy reader decoded itself (the others through parse_line)

    @property
    def size(self) -> int:
        return int(self.t_ms.size)


class LineField(Sequence[Any]):
    """One field of each record (``model``: str or None; a token count: float, NaN for null),
    read from its line when asked: the replay asks for a few (the entries live at the end).
    The lines were checked when the trace was read."""

    def __init__(self, path: str, offsets: np.ndarray, name: str) -> None:
        self.path, self.offsets, self.name = path, offsets, name

    def __len__(self) -> int:
        return int(self.offsets.size)

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return self.take(range(len(self))[i])
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self.take([i])[0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.take(range(len(self))))

    def take(self, rows: Sequence[int]) -> list[Any]:
        """The field of each of ``rows``, in one pass over the file."""
        out = []
        with open(self.path, "rb") as handle:
            for offset in self.offsets[np.asarray(rows, dtype=np.int64)].tolist():
                handle.seek(offset)
                value = json.loads(handle.readline()).get(self.name)
                out.append(value if self.name == "model" else math.nan if value is None else float(value))
        return out


def take(values: Sequence[Any] | np.ndarray, rows: list[int]) -> list[Any]:
    """``values[i]`` for each of ``rows`` (a ``LineField`` reads the file once for them)."""
    if isinstance(values, LineField):
        return values.take(rows)
    return [values[i] for i in rows]


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
        cost_usd=column("cost_usd", np.float64),
        latency_ms=column("latency_ms", np.float64),
        cache_latency_ms=column("cache_latency_ms", np.float64),
        input_tokens=column("input_tokens", np.float64),
        output_tokens=column("output_tokens", np.float64),
        model=[line.model for line in lines],
        keys=[line.key for line in first],
        key_symbol=[line.symbol for line in first],
        key_type=[line.data_type for line in first],
        reader="json",
    )
