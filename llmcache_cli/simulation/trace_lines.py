"""One trace line the plain way: ``json.loads`` and a check of every field.

This defines what a valid line is: a JSON object with ``ts`` (ISO 8601 with a UTC offset),
``key`` (non-empty string), ``hit`` (true/false) and ``cost_usd`` (a number >= 0); optional
``symbol``, ``data_type``, ``model``, ``input_tokens``, ``output_tokens``, ``latency_ms`` and
``cache_latency_ms``. Problems are ``UsageError``s naming the line. The plain reader
(``trace_columns.read_plain``) reads every line with it; the numpy reader (``trace_parse``)
every line that is not laid out exactly as the library writes it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from llmcache_cli.errors import UsageError
from llmcache_cli.keys import data_type_of, parse_key
from llmcache_cli.simulation.workload import epoch_ms


@dataclass(frozen=True)
class Line:
    t_ms: int
    key: str
    symbol: str | None
    data_type: str
    hit: bool
    cost_usd: float
    latency_ms: float
    cache_latency_ms: float
    model: str | None
    input_tokens: float  # NaN when unknown
    output_tokens: float


class TraceLineError(UsageError):
    """A bad trace line. Picklable (it crosses from a reader process), and movable: a reader
    of the second half of a file numbers its lines from there."""

    def __init__(self, where: str, line_no: int, problem: str) -> None:
        super().__init__(
            f"{where} line {line_no}: {problem}", hint="expected the library's JSON-lines request trace"
        )
        self.args = (where, line_no, problem)
        self.where, self.line_no, self.problem = where, line_no, problem

    def moved(self, lines_before: int) -> TraceLineError:
        return TraceLineError(self.where, self.line_no + lines_before, self.problem)


def bad(where: str, line_no: int, problem: str) -> TraceLineError:
    return TraceLineError(where, line_no, problem)


def parse_ts(text: Any) -> int | None:
    """Epoch milliseconds of an ISO 8601 time with an offset (``Z`` allowed); None if invalid."""
    if not isinstance(text, str):
        return None
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        at = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        return None
    return epoch_ms(at)


def _number(obj: dict[str, Any], name: str, where: str, line_no: int, required: bool) -> float:
    value = obj.get(name)
    if value is None and not required:
        return 0.0
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise bad(where, line_no, f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _tokens(obj: dict[str, Any], name: str, where: str, line_no: int) -> float:
    value = obj.get(name)
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad(where, line_no, f"{name} must be a whole number >= 0 or null, got {value!r}")
    return float(value)


def parse_line(raw: bytes, where: str, line_no: int) -> Line | None:
    """The record of one line; None for a blank line."""
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise bad(where, line_no, "not UTF-8 text") from None
    if not text:
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise bad(where, line_no, "not a JSON object") from None
    if not isinstance(obj, dict):
        raise bad(where, line_no, "not a JSON object")
    for name in ("ts", "key", "hit", "cost_usd"):
        if name not in obj:
            raise bad(where, line_no, f"missing field {name!r}")
    t_ms = parse_ts(obj["ts"])
    if t_ms is None:
        raise bad(where, line_no, f"ts must be an ISO 8601 time with a UTC offset, got {obj['ts']!r}")
    key = obj["key"]
    if not isinstance(key, str) or not key:
        raise bad(where, line_no, f"key must be a non-empty string, got {key!r}")
    if not isinstance(obj["hit"], bool):
        raise bad(where, line_no, f"hit must be true or false, got {obj['hit']!r}")
    symbol = obj.get("symbol")
    if symbol is not None and not isinstance(symbol, str):
        raise bad(where, line_no, f"symbol must be a string or null, got {symbol!r}")
    data_type = obj.get("data_type")
    if data_type is None:
        parsed = parse_key(key)
        data_type = parsed.namespace if parsed else "analysis"
    if not isinstance(data_type, str):
        raise bad(where, line_no, f"data_type must be a string, got {data_type!r}")
    model = obj.get("model")
    if model is not None and not isinstance(model, str):
        raise bad(where, line_no, f"model must be a string or null, got {model!r}")
    return Line(
        t_ms=t_ms,
        key=key,
        symbol=symbol,
        data_type=data_type_of(data_type),
        hit=obj["hit"],
        cost_usd=_number(obj, "cost_usd", where, line_no, True),
        latency_ms=_number(obj, "latency_ms", where, line_no, False),
        cache_latency_ms=_number(obj, "cache_latency_ms", where, line_no, False),
        model=model,
        input_tokens=_tokens(obj, "input_tokens", where, line_no),
        output_tokens=_tokens(obj, "output_tokens", where, line_no),
    )
