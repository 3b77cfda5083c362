"""Small value types shared by the service and the decorator: what a key is, what a lookup
found, and the envelope's meta."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmcache_cli.envelope import META_FIELDS, meta_number
from llmcache_cli.keys import InvalidKeyPart, check_segment, data_type_of, parse_key


@dataclass(frozen=True)
class KeyInfo:
    """What the schema says about a key: its namespace (for the counters), data type (for the
    TTL policy), and symbol and entity (for the per-symbol index), if any."""

    namespace: str
    data_type: str
    symbol: str | None
    entity: str | None


def describe_key(key: str, default_namespace: str, stock_entities: Iterable[str]) -> KeyInfo:
    """Keys outside the schema count under ``default_namespace`` and have no symbol."""
    parsed = parse_key(key)
    if parsed is None:
        return KeyInfo(default_namespace, data_type_of(default_namespace), None, None)
    try:
        namespace = check_segment(parsed.namespace, "namespace")
        symbol = parsed.symbol(stock_entities)
        if symbol is not None:
            check_segment(symbol, "symbol")
    except InvalidKeyPart:
        return KeyInfo(default_namespace, data_type_of(default_namespace), None, None)
    return KeyInfo(namespace, data_type_of(namespace), symbol, parsed.entity if symbol else None)


@dataclass(frozen=True)
class Lookup:
    """The outcome of one cache read.

    ``hit`` is True for any JSON value, falsy ones included. ``failed`` means Redis could not
    be asked (down, slow, erring): the caller must treat it as a miss.
    """

    hit: bool
    value: Any = None
    meta: dict[str, Any] | None = None
    failed: bool = False
    latency_ms: float = 0.0

    @property
    def cost_usd(self) -> float:
        return meta_number(self.meta, "cost_usd") or 0.0

    @property
    def llm_latency_ms(self) -> float:
        return meta_number(self.meta, "latency_ms") or 0.0


MISS_FAILED = Lookup(hit=False, failed=True)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def build_meta(meta: Mapping[str, Any] | None, data_type: str) -> dict[str, Any]:
    """The envelope's meta: every field of ``META_FIELDS`` present (unknown ones null or 0),
    plus any extra fields the caller gave."""
    out: dict[str, Any] = {
        "model": None,
        "input_tokens": None,
        "output_tokens": None,
        "cost_usd": 0.0,
        "latency_ms": 0.0,
        "created_at": utc_now().isoformat(),
        "data_type": data_type,
        "input_hash": None,
    }
    if meta:
        out.update(meta)
    for name in ("cost_usd", "latency_ms"):
        value = out[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"meta {name} must be a number >= 0, got {value!r}")
        out[name] = float(value)
    assert set(META_FIELDS) <= set(out)
    return out
