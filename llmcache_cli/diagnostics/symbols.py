"""Symbols that differ from one only in case: the hint when ``invalidate aapl`` finds nothing
but ``AAPL`` has entries. (A symbol is case-sensitive data: llmcache never matches ``aapl`` to
``AAPL``; it only says that the other exists.)"""

from __future__ import annotations

from collections.abc import Collection

from llmcache_cli.client import RedisHandle
from llmcache_cli.keys import escape_glob, parse_key

MAX_VARIANTS = 3


def _any_case_glob(symbol: str) -> str:
    out = []
    for ch in symbol:
        if ch.lower() != ch.upper():
            out.append(f"[{escape_glob(ch.lower())}{escape_glob(ch.upper())}]")
        else:
            out.append(escape_glob(ch))
    return "".join(out)


def other_cases(handle: RedisHandle, symbol: str, entities: Collection[str]) -> list[str]:
    """Up to MAX_VARIANTS symbols with entries that equal ``symbol`` but for case (a SCAN of
    every primary: only called when nothing matched)."""
    if symbol.lower() == symbol.upper():
        return []  # no letters: no other case
    wanted = symbol.casefold()
    found: set[str] = set()
    globbed = _any_case_glob(symbol)
    for entity in sorted(set(entities)):
        match = f"*:{escape_glob(entity)}:*{globbed}*"
        for node in handle.nodes:
            with handle.translated(node):
                for key in node.client.scan_iter(match=match, count=1000):
                    parsed = parse_key(key)
                    other = parsed.symbol(entities) if parsed else None
                    if other and other != symbol and other.casefold() == wanted:
                        found.add(other)
                        if len(found) >= MAX_VARIANTS:
                            return sorted(found)
    return sorted(found)
