"""The request trace: one JSON object per line for every decorated call, for replay by
``llmcache simulate --trace``.

Fields (all always present but ``near``, written only on near hits; see docs/library.md)::

    ts, key, namespace, symbol, data_type, hit, model, input_tokens, output_tokens,
    cost_usd, latency_ms, cache_latency_ms, ttl_seconds, near

Each line is written with a single ``write`` on a file opened for appending, so several
processes may share one trace file without interleaving lines.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TRACE_FIELDS = (
    "ts",
    "key",
    "namespace",
    "symbol",
    "data_type",
    "hit",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "cache_latency_ms",
    "ttl_seconds",
    "near",
)


@dataclass(frozen=True)
class TraceRecord:
    ts: str  # ISO 8601, UTC, with offset: when the request started
    key: str
    namespace: str
    symbol: str | None
    data_type: str
    hit: bool
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float  # what the LLM call cost (miss) or would have cost (hit)
    latency_ms: float  # the LLM call's duration (miss: measured; hit: recorded in the entry)
    cache_latency_ms: float  # time spent in cache operations for this request
    ttl_seconds: int | None  # TTL written on a miss, else None
    near: bool = False  # a hit served from the near cache (process memory)

    def to_json(self) -> str:
        fields = asdict(self)
        if not self.near:
            del fields["near"]  # written only on near hits: the replay's fast reader knows the rest
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, line: str) -> TraceRecord:
        data: dict[str, Any] = json.loads(line)
        fields: dict[str, Any] = {name: data.get(name) for name in TRACE_FIELDS}
        fields["near"] = bool(fields["near"])
        return cls(**fields)


def utc_now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class TraceWriter:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: TraceRecord) -> None:
        if self._fd is None:
            return
        os.write(self._fd, (record.to_json() + "\n").encode("utf-8"))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_trace(path: str | os.PathLike[str]) -> list[TraceRecord]:
    """Every record of a trace file, in order (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        return [TraceRecord.from_json(line) for line in handle if line.strip()]
