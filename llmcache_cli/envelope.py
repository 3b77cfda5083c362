"""The stored value (SPEC section 3): a JSON envelope ``{"result": ..., "meta": {...}}``.

JSON only, never pickle. ``decode_entry`` copes with anything found in Redis: an envelope, plain
JSON written by other code, text that is not JSON, and bytes that are not text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

META_FIELDS = (
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "created_at",
    "data_type",
    "input_hash",
)

Kind = Literal["envelope", "json", "text", "binary"]


@dataclass(frozen=True)
class Entry:
    kind: Kind
    result: Any
    meta: dict[str, Any] | None

    @property
    def cost_usd(self) -> float:
        """What this entry cost to make (0.0 when unknown)."""
        value = (self.meta or {}).get("cost_usd")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        return 0.0

    @property
    def latency_ms(self) -> float:
        value = (self.meta or {}).get("latency_ms")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        return 0.0


def encode_envelope(result: Any, meta: dict[str, Any]) -> bytes:
    return json.dumps(
        {"result": result, "meta": meta}, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def decode_entry(raw: bytes | str) -> Entry:
    """Never raises: unknown content comes back as ``text`` or ``binary``."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Entry("binary", raw, None)
    else:
        text = raw
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return Entry("text", text, None)
    if isinstance(value, dict) and set(value) == {"result", "meta"} and isinstance(value["meta"], dict):
        return Entry("envelope", value["result"], value["meta"])
    return Entry("json", value, None)
