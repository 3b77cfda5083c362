"""What an invalidation removes: targets, each with SCAN patterns and an exact test.

A target's ``patterns`` are handed to ``SCAN MATCH``; together they find a *superset* of its
keys (``*:stock:*AAPL*`` also finds ``AAPLX``). ``Target.accepts`` is the exact test every key
must pass before anything is deleted: the symbol segment equal to the symbol (case-sensitive,
stock entity, plain or hash-tagged), the data type and version filters, and never one of
llmcache's own bookkeeping keys (``llmcache:...``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from llmcache_cli.config import DATA_TYPES, DEFAULT_DATA_TYPE, check_version
from llmcache_cli.errors import UsageError
from llmcache_cli.keys import (
    InvalidKeyPart,
    cache_data_type,
    check_segment,
    escape_glob,
    is_internal,
    key_text,
    parse_key,
    symbol_index_key,
    symbol_match_patterns,
)

# The events a bot reacts to (docs/design.md, "Invalidation"): an earnings release makes the
# symbol's analysis, fundamental and earnings entries stale; major news its sentiment entries.
# The library (Invalidator.on_earnings / on_news) and the CLI (--event) both read this table.
EVENT_DATA_TYPES: dict[str, tuple[str, ...]] = {
    "earnings": ("analysis", "fundamental", "earnings"),
    "news": ("sentiment",),
}

Kind = Literal["symbol", "pattern", "version"]


@dataclass(frozen=True)
class Target:
    """One thing the operator asked to remove: a symbol, a raw glob, or a cache version."""

    kind: Kind
    label: str  # for display: valid text (key_text), whatever bytes were typed
    patterns: tuple[str, ...]
    index_keys: tuple[str, ...] = ()
    symbol: str | None = None
    entities: frozenset[str] = frozenset({"stock"})
    data_types: frozenset[str] | None = None
    version: str | None = None
    namespace: str | None = None
    # Namespaces of cache entries besides the data types ([keys] namespaces); when set (the CLI),
    # a symbol or version target never touches keys of any other namespace unless it names it.
    cache_namespaces: frozenset[str] | None = None

    def accepts(self, key: bytes | str) -> bool:
        """True exactly when ``key`` belongs to this target (SCAN results are a superset)."""
        if is_internal(key):
            return False
        parsed = parse_key(key)
        if (
            self.kind != "pattern"
            and self.cache_namespaces is not None
            and parsed is not None
            and parsed.namespace != self.namespace
            and cache_data_type(parsed.namespace, self.cache_namespaces) is None
        ):
            return False  # not a cache entry: only a raw --pattern (or --namespace) reaches it
        if self.kind == "pattern":
            # SCAN MATCH already applied the operator's glob exactly; only --type remains.
            return self.data_types is None or (parsed is not None and parsed.data_type in self.data_types)
        if parsed is None:
            return False
        if self.data_types is not None and parsed.data_type not in self.data_types:
            return False
        if self.kind == "symbol":
            return parsed.symbol(self.entities) == self.symbol
        return parsed.version == self.version and self.namespace in (None, parsed.namespace)

    @property
    def scope(self) -> str:
        """What else narrows the target, for display: its data types, or a version's namespace."""
        if self.kind == "version":
            return f"namespace {self.namespace}" if self.namespace is not None else "all namespaces"
        return ",".join(sorted(self.data_types)) if self.data_types is not None else "all data types"


def known_data_types(types: Iterable[str]) -> frozenset[str]:
    """``types`` as a set, every one a known data type (else a usage error naming it)."""
    chosen = tuple(types)
    unknown = [t for t in chosen if t not in DATA_TYPES]
    if unknown:
        raise UsageError(f"unknown data type {unknown[0]!r}", hint="data types: " + ", ".join(DATA_TYPES))
    return frozenset(chosen)


def data_type_filter(types: Sequence[str] = (), event: str | None = None) -> frozenset[str] | None:
    """The data types to keep from ``--type`` (repeatable) or ``--event``; None means all."""
    if types and event:
        raise UsageError("use either --type or --event, not both", hint="--event picks the data types itself")
    if event is not None:
        if event not in EVENT_DATA_TYPES:
            raise UsageError(f"unknown --event {event!r}", hint="events: " + ", ".join(EVENT_DATA_TYPES))
        return frozenset(EVENT_DATA_TYPES[event])
    return known_data_types(types) if types else None


def _narrow_namespace(data_types: frozenset[str] | None) -> str | None:
    # One known non-default type names its namespace exactly; "analysis" also covers every
    # unknown namespace, so it cannot narrow the pattern.
    if data_types is not None and len(data_types) == 1:
        (only,) = data_types
        return None if only == DEFAULT_DATA_TYPE else only
    return None


def symbol_targets(
    symbols: Iterable[str], entities: Iterable[str], data_types: frozenset[str] | None = None
) -> tuple[Target, ...]:
    """One target per distinct symbol, in the order given. Bad symbols are usage errors."""
    stock_entities = frozenset(entities)
    namespace = _narrow_namespace(data_types)
    out: list[Target] = []
    for symbol in dict.fromkeys(symbols):
        try:
            patterns = symbol_match_patterns(symbol, stock_entities, namespace)
            index_keys = tuple(symbol_index_key(symbol, e) for e in sorted(stock_entities))
        except InvalidKeyPart as exc:
            raise UsageError(
                f"invalid symbol: {exc}", hint="a symbol is one key segment, e.g. AAPL"
            ) from None
        out.append(
            Target(
                "symbol",
                key_text(symbol),
                tuple(patterns),
                index_keys,
                symbol=symbol,
                entities=stock_entities,
                data_types=data_types,
            )
        )
    if not out:
        raise UsageError("name at least one SYMBOL, or a raw --pattern", hint="e.g. llmcache invalidate AAPL")
    return tuple(out)


def is_catch_all(glob: str) -> bool:
    """A glob with no literal character (``*``, ``**``, ``?*`` ...) matches (nearly) every key."""
    return glob.strip("*?") == ""


def pattern_target(
    glob: str,
    data_types: frozenset[str] | None = None,
    allow_all: bool = False,
    entities: Iterable[str] = ("stock",),
) -> Target:
    """A raw SCAN glob, given explicitly with ``--pattern``; a catch-all needs ``--all``.
    ``entities`` only says which deleted keys have a per-symbol index to keep in step."""
    if is_catch_all(glob) and not allow_all:
        what = f"--pattern {glob!r}" if glob else "an empty --pattern"
        raise UsageError(
            f"refusing {what}: it would match every key",
            hint="add --all if you really mean every cache key; llmcache:* bookkeeping is always kept",
        )
    return Target(
        "pattern", key_text(glob or "*"), (glob or "*",), entities=frozenset(entities), data_types=data_types
    )


def version_target(
    version: str, namespace: str | None = None, entities: Iterable[str] = ("stock",)
) -> Target:
    """Every key whose cache version (its last segment, ``ParsedKey.version``) is ``version``.
    A version is whatever ``[cache] version`` accepts (``config.check_version``): ``v1``,
    ``2024-06``, ..."""
    check_version(version)
    ns_glob = "*"
    if namespace is not None:
        try:
            ns_glob = escape_glob(check_segment(namespace, "namespace"))
        except InvalidKeyPart as exc:
            raise UsageError(f"invalid --namespace: {exc}") from None
    # The version is the last whole segment, so every such key ends with ":<version>".
    return Target(
        "version",
        key_text(version),
        (f"{ns_glob}:*:{escape_glob(version)}",),
        entities=frozenset(entities),
        version=version,
        namespace=namespace,
    )
