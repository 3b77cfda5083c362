"""One key segment: the rule every part of a key obeys (namespace, entity, symbol, qualifier,
cache version), and the bytes <-> text of keys typed in a shell.

It sits below ``config`` (a ``[cache] version`` must be a segment) and ``keys`` (the schema).
"""

from __future__ import annotations

import re

SEPARATOR = ":"
_SURROGATES = re.compile("[\ud800-\udfff]")


class InvalidKeyPart(ValueError):
    """A key part that cannot be used (empty, holds ':' or control characters, not UTF-8)."""


def check_segment(value: str, what: str) -> str:
    """Validate one key segment given by a user or caller; return it unchanged."""
    if not isinstance(value, str) or value == "":
        raise InvalidKeyPart(f"{what} must be a non-empty string")
    if SEPARATOR in value:
        raise InvalidKeyPart(f"{what} {value!r} must not contain ':'")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidKeyPart(f"{what} {value!r} must not contain control characters")
    if _SURROGATES.search(value):  # bytes typed in a shell that are not UTF-8 (see key_bytes)
        raise InvalidKeyPart(f"{what} '{key_text(value)}' must be UTF-8 text")
    if value.startswith("{") or value.endswith("}"):
        raise InvalidKeyPart(f"{what} {value!r} must not start with '{{' or end with '}}' (hash tag)")
    return value


def key_bytes(key: str | bytes) -> bytes:
    """A key or SCAN pattern as the bytes Redis holds: UTF-8, except that the surrogate escapes
    Python makes of command-line bytes that are not UTF-8 (``raw:\\udcff``) become those bytes
    again (``os.fsencode``'s rule), so a key typed in a shell is the key stored."""
    return key if isinstance(key, bytes) else key.encode("utf-8", "surrogateescape")


def key_text(key: str | bytes) -> str:
    """A key or pattern for display and JSON: always valid text, bytes that are not UTF-8
    shown as ``\\x..`` escapes (a lone surrogate no shell makes, as ``\\ud800``)."""
    try:
        return key_bytes(key).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return str(key).encode("utf-8", "backslashreplace").decode("utf-8")
