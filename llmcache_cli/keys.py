"""The key schema (docs/design.md, "Key schema"): build keys, parse them back, escape user input for MATCH.

``{namespace}:{entity}:{identifier}[:{qualifier}...]``. The namespace names the data type; the
identifier of a stock entity is the symbol, optionally wrapped in a cluster hash tag
(``analysis:stock:{AAPL}:v1``). A symbol is data, never a pattern: ``escape_glob`` is applied
before any user text reaches a SCAN ``MATCH``, and every match is checked again by ``parse_key``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmcache_cli.config import DATA_TYPES, DEFAULT_DATA_TYPE
from llmcache_cli.segments import SEPARATOR as SEPARATOR
from llmcache_cli.segments import InvalidKeyPart as InvalidKeyPart
from llmcache_cli.segments import check_segment as check_segment
from llmcache_cli.segments import key_bytes as key_bytes
from llmcache_cli.segments import key_text as key_text

DEFAULT_STOCK_ENTITY = "stock"
_GLOB_METACHARS = re.compile(r"([*?\[\]\\])")
HASH_HEX_CHARS = 16


def escape_glob(text: str) -> str:
    """Escape Redis glob metacharacters so ``text`` only matches itself in SCAN MATCH."""
    return _GLOB_METACHARS.sub(r"\\\1", text)


def data_type_of(namespace: str) -> str:
    """The data type a namespace names; anything unknown counts as ``analysis`` (what the
    library writes under a namespace of its own)."""
    return namespace if namespace in DATA_TYPES else DEFAULT_DATA_TYPE


def cache_data_type(namespace: str, cache_namespaces: Collection[str] = ()) -> str | None:
    """The data type of a namespace of cache entries: a data type's own namespace, or one the
    configuration lists (``[keys] namespaces``, judged as ``analysis``). None for any other
    namespace: keys that are not the cache's, which reports count as "other" and never judge."""
    if namespace in DATA_TYPES:
        return namespace
    return DEFAULT_DATA_TYPE if namespace in cache_namespaces else None


# ---------------------------------------------------------------------------------------------
# Stable hashing of input data


def _canonical_default(obj: Any) -> Any:
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=canonical_json)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, bytes):
        return {"__bytes__": obj.hex()}
    raise TypeError(f"cannot hash a value of type {type(obj).__name__}; pass JSON-like data")


def _normalise_floats(obj: Any) -> Any:
    # 1 and 1.0 are the same input to an LLM prompt; NaN has no canonical JSON form.
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return repr(obj)
        return int(obj) if obj.is_integer() else obj
    if isinstance(obj, Mapping):
        return {str(k): _normalise_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_normalise_floats(v) for v in obj]
    return obj


def canonical_json(data: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, same text in every process and machine."""
    return json.dumps(
        _normalise_floats(data),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_canonical_default,
    )


def input_hash(data: Any, length: int = HASH_HEX_CHARS) -> str:
    """A stable hex digest (blake2b) of ``data``'s canonical JSON. Never Python's ``hash()``."""
    digest = hashlib.blake2b(canonical_json(data).encode("utf-8"), digest_size=32).hexdigest()
    return digest[:length]


# ---------------------------------------------------------------------------------------------
# Building


def format_identifier(symbol: str, hash_tag: bool) -> str:
    """``{AAPL}`` for Redis Cluster: the slot is hashed from the text between the key's first
    '{' and the first '}' after it, so a tagged symbol may hold '{' but never '}'."""
    if hash_tag and "}" in symbol:
        raise InvalidKeyPart(
            f"identifier {symbol!r} cannot be a cluster hash tag: Redis Cluster ends a tag at its first '}}'"
        )
    return "{" + symbol + "}" if hash_tag else symbol


def build_key(
    namespace: str,
    entity: str,
    identifier: str,
    *qualifiers: str,
    hash_tag: bool = False,
) -> str:
    """Join validated segments. ``hash_tag`` wraps the identifier as ``{AAPL}`` for Redis Cluster."""
    parts = [
        check_segment(namespace, "namespace"),
        check_segment(entity, "entity"),
        format_identifier(check_segment(identifier, "identifier"), hash_tag),
    ]
    parts.extend(check_segment(q, "qualifier") for q in qualifiers)
    return SEPARATOR.join(parts)


def symbol_key(
    namespace: str,
    symbol: str,
    version: str = "v1",
    *,
    entity: str = DEFAULT_STOCK_ENTITY,
    hash_tag: bool = False,
) -> str:
    """``analysis:stock:AAPL:v1``: one entry per symbol and cache version."""
    return build_key(namespace, entity, symbol, version, hash_tag=hash_tag)


def data_hash_key(
    namespace: str,
    symbol: str,
    data: Any,
    version: str | None = None,
    *,
    entity: str = DEFAULT_STOCK_ENTITY,
    hash_tag: bool = False,
) -> str:
    """``analysis:stock:AAPL:a1b2c3d4e5f60718``: one entry per distinct input."""
    extra = (version,) if version else ()
    return build_key(namespace, entity, symbol, input_hash(data), *extra, hash_tag=hash_tag)


def hour_bucket(at: dt.datetime, bucket_seconds: int = 3600) -> int:
    if at.tzinfo is None:
        raise ValueError("time buckets need an aware datetime")
    return int(at.timestamp()) // bucket_seconds


def time_bucket_key(
    namespace: str,
    symbol: str,
    at: dt.datetime,
    version: str | None = None,
    *,
    bucket_seconds: int = 3600,
    entity: str = DEFAULT_STOCK_ENTITY,
    hash_tag: bool = False,
) -> str:
    """``analysis:stock:AAPL:478292``: one entry per time bucket (hours since the epoch)."""
    extra = (version,) if version else ()
    bucket = str(hour_bucket(at, bucket_seconds))
    return build_key(namespace, entity, symbol, bucket, *extra, hash_tag=hash_tag)


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class ParsedKey:
    namespace: str
    entity: str
    identifier: str
    qualifiers: tuple[str, ...]
    hash_tagged: bool

    @property
    def data_type(self) -> str:
        return data_type_of(self.namespace)

    @property
    def version(self) -> str | None:
        """The cache version a writer appends last (``analysis:stock:AAPL:v1``,
        ``...:a1b2c3:2024-06``): the last qualifier, None without one. Any segment the
        configuration accepts is a version (``config.check_version``)."""
        return self.qualifiers[-1] if self.qualifiers else None

    def symbol(self, stock_entities: Iterable[str] = (DEFAULT_STOCK_ENTITY,)) -> str | None:
        """The symbol when the entity is a stock entity, else None."""
        return self.identifier if self.entity in stock_entities else None


def parse_key(key: str | bytes) -> ParsedKey | None:
    """Split a key into its parts; None when it does not follow the schema."""
    if isinstance(key, bytes):
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            return None
    parts = key.split(SEPARATOR)
    if len(parts) < 3 or not all(parts[:3]):
        return None
    identifier = parts[2]
    tagged = len(identifier) > 2 and identifier.startswith("{") and identifier.endswith("}")
    if tagged:
        identifier = identifier[1:-1]
        if "}" in identifier:  # the tag would end inside it (see format_identifier)
            return None
    return ParsedKey(parts[0], parts[1], identifier, tuple(parts[3:]), tagged)


def symbol_of(key: str | bytes, stock_entities: Iterable[str] = (DEFAULT_STOCK_ENTITY,)) -> str | None:
    parsed = parse_key(key)
    return parsed.symbol(stock_entities) if parsed else None


def symbol_match_patterns(
    symbol: str, entities: Iterable[str] = (DEFAULT_STOCK_ENTITY,), namespace: str | None = None
) -> list[str]:
    """SCAN MATCH patterns, one per stock entity, that find every key of ``symbol``.

    ``*SYM*`` in the identifier position covers the plain and the hash-tagged (``{SYM}``) form
    in one pass. The patterns match a superset (``AAPLX`` for ``AAPL``): callers must confirm
    each key with ``key_has_symbol``. They never match fewer.
    """
    check_segment(symbol, "symbol")
    ns = escape_glob(check_segment(namespace, "namespace")) if namespace else "*"
    sym = escape_glob(symbol)
    return [f"{ns}:{escape_glob(entity)}:*{sym}*" for entity in sorted(set(entities))]


def key_has_symbol(key: str | bytes, symbol: str, entities: Iterable[str] = (DEFAULT_STOCK_ENTITY,)) -> bool:
    """True exactly when ``key``'s symbol segment equals ``symbol`` (case-sensitive)."""
    return symbol_of(key, entities) == symbol


# ---------------------------------------------------------------------------------------------
# llmcache's own bookkeeping keys (not cache entries). All start with INTERNAL_PREFIX.

INTERNAL_PREFIX = "llmcache:"
STATS_FIELDS = ("hits", "misses", "near_hits", "cost_spent_usd", "cost_saved_usd", "time_saved_ms")


def is_internal(key: str | bytes) -> bool:
    prefix = INTERNAL_PREFIX.encode() if isinstance(key, bytes) else INTERNAL_PREFIX
    return key.startswith(prefix)  # type: ignore[arg-type]


def stats_key(namespace: str) -> str:
    """The live-counter hash of one namespace: fields ``STATS_FIELDS``."""
    return f"{INTERNAL_PREFIX}stats:{check_segment(namespace, 'namespace')}"


def symbol_index_key(symbol: str, entity: str = DEFAULT_STOCK_ENTITY) -> str:
    """The set of cache keys written for one symbol. Hash-tagged, so in a cluster it lives in
    the same slot as the symbol's hash-tagged entries."""
    return f"{INTERNAL_PREFIX}index:{check_segment(entity, 'entity')}:{{{check_segment(symbol, 'symbol')}}}"


def lock_key(key: str) -> str:
    """The short cross-process stampede lock of one cache key."""
    return f"{INTERNAL_PREFIX}lock:{key}"
