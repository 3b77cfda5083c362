"""The stored value (docs/design.md, "Stored value"): a JSON envelope ``{"result": ..., "meta": {...}}``.

JSON only, never pickle. ``decode_entry`` copes with anything found in Redis: an envelope, plain
JSON written by other code, text that is not JSON, and bytes that are not text.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

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


def meta_number(meta: dict[str, Any] | None, name: str) -> float | None:
    """A figure of an entry's meta (``cost_usd``, ``latency_ms``), which anyone may have
    written: None unless it is a finite number >= 0 (one infinite cost would make every total
    infinite, and JSON has no infinity)."""
    value = (meta or {}).get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of 400 digits
        return None
    return number if math.isfinite(number) and number >= 0 else None


@dataclass(frozen=True)
class Entry:
    kind: Kind
    result: Any
    meta: dict[str, Any] | None

    @property
    def cost_usd(self) -> float:
        """What this entry cost to make (0.0 when unknown)."""
        return meta_number(self.meta, "cost_usd") or 0.0

    @property
    def latency_ms(self) -> float:
        return meta_number(self.meta, "latency_ms") or 0.0


def encode_envelope(result: Any, meta: dict[str, Any]) -> bytes:
    return json.dumps(
        {"result": result, "meta": meta}, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _none(_: str) -> None:
    return None


# Made once: ``json.loads`` with hooks builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_float=_finite_or_none, parse_constant=_none)
# msgspec decodes strict JSON about 3x faster than ``json`` and refuses everything else (NaN,
# numbers out of a float's range, bad UTF-8, lone surrogates), which then takes the ``json``
# path below: what a document means does not depend on which decoder read it (tested).
_STRICT = msgspec.json.Decoder()


def decode_entry(raw: bytes | str) -> Entry:
    """Never raises: unknown content comes back as ``text`` or ``binary``. A number JSON cannot
    carry (``NaN``, ``Infinity``, ``1e400``, which Python reads as infinity) reads as null, so
    whatever is decoded can be written out as strict JSON again."""
    try:
        value = _STRICT.decode(raw)
    except msgspec.DecodeError:
        pass
    else:
        return _entry(value)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Entry("binary", raw, None)
    else:
        text = raw
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return Entry("text", text, None)
    return _entry(value)


def _entry(value: Any) -> Entry:
    if (
        isinstance(value, dict)
        and len(value) == 2
        and "result" in value
        and isinstance(value.get("meta"), dict)
    ):
        return Entry("envelope", value["result"], value["meta"])
    return Entry("json", value, None)
