"""Taking apart the lines the library writes, on raw bytes with numpy.

``TraceRecord.to_json`` writes the fields in one order (``TRACE_FIELDS``) with compact
separators, so a line's fields sit between its double quotes at known places: 34 quotes, plus 2
when the symbol and 2 when the model is a string rather than null, plus 2 when the line ends
with ``near`` (written only on near-cache hits). ``decode_fast`` checks each line's structure
(the quote count, each field name's length in its place, one byte between a name and its text
value, ``true``/``false``/``null`` spelled out, the time and number forms, no backslash and no
control byte, UTF-8) and decodes those that pass; the caller sends the others to ``trace_lines``.
Field names are checked by their length and place and separators by their place, not letter
by letter: a line with the library's layout but other names of the same lengths, or another
byte where a ``:`` or ``,`` belongs, would be read as the library's line (no writer of traces
does that; checking those bytes too would take another gather per quote of every line).

Two things keep it at about 1 to 1.5 µs a line: a block whose lines all share one layout (one bot
writing: the usual case) has its quote positions as one (lines x quotes) matrix without any
gathering (``_uniform``; any other block, such as one mixing lines with and without ``near``,
goes through ``_general``), and keys are looked up in a hash index kept across blocks
(``KeyTable.find``), checked word for word, so that only a key not seen before costs Python
work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from llmcache_cli.cache.trace import TRACE_FIELDS
from llmcache_cli.simulation import trace_bytes as tb
from llmcache_cli.simulation import trace_keys
from llmcache_cli.simulation.trace_columns import NUMBERS, TOKENS
from llmcache_cli.simulation.trace_keys import MAX_FAST_KEY, KeyTable

QUOTE, BACKSLASH = 34, 92
PREFIX = b'{"' + TRACE_FIELDS[0].encode() + b'":"'
PREFIX_BYTES = len(PREFIX)
PREFIX_WORD = np.uint64(int.from_bytes(PREFIX, "little"))
VALUES = (*TOKENS, *NUMBERS)  # the numbers read; token counts are whole or null
# How the library writes each field of ``TRACE_FIELDS``: a string; a string or null; a bare
# value (number, true/false, null); the last, written only when true. A field missing here
# stops the import (the tests import this module): the reader must be told how it is written.
TEXT = ("ts", "key", "namespace", "data_type")
TEXT_OR_NULL = ("symbol", "model")
WORDS = ("hit", "near")  # true or false
COUNTS = ("ttl_seconds",)  # a whole number >= 0 or null, checked, not read
OPTIONAL_LAST = "near"
if set(TRACE_FIELDS) != {*TEXT, *TEXT_OR_NULL, *WORDS, *VALUES, *COUNTS} or TRACE_FIELDS[-1] != OPTIONAL_LAST:
    raise RuntimeError("trace_layout does not know how TraceRecord writes its fields")


def _layout(symbol: bool, model: bool, near: bool) -> list[str | None]:
    """The quote pairs of one layout (symbol / model a string or null, ``near`` written or
    not): a field name, or None for a text value."""
    pairs: list[str | None] = []
    for name in TRACE_FIELDS:
        if name == OPTIONAL_LAST and not near:
            continue
        pairs.append(name)
        if name in TEXT or (name == "symbol" and symbol) or (name == "model" and model):
            pairs.append(None)
    return pairs


_KINDS = [_layout(bool(c & 1), bool(c & 2), bool(c & 4)) for c in range(8)]  # kind: symbol + 2 model + 4 near
MAX_PAIRS = max(len(pairs) for pairs in _KINDS)
MAX_QUOTES = 2 * MAX_PAIRS
_PAIRS = np.array([len(pairs) for pairs in _KINDS])  # quote pairs per kind
# per kind and pair: the name's length (-1: a value); whether the next pair follows at once
# ('":"' or '","': a text value after a name or a name after a text value)
_LENGTHS = np.array(
    [[len(p) if p is not None else -1 for p in pairs] + [-1] * (MAX_PAIRS - len(pairs)) for pairs in _KINDS]
)
_ADJACENT = np.array(
    [
        [p + 1 < len(pairs) and None in (pairs[p], pairs[p + 1]) for p in range(MAX_PAIRS - 1)]
        for pairs in _KINDS
    ]
)
_PAIR = {
    name: np.array([pairs.index(name) if name in pairs else -1 for pairs in _KINDS]) for name in TRACE_FIELDS
}
if any(len(set(_PAIR[name].tolist())) != 1 for name in ("ts", "key", "symbol")):
    raise RuntimeError("trace_layout reads ts, key and symbol at the same place in every layout")
_SYMBOL_NAME = int(_PAIR["symbol"][0])  # the same in every kind, as are ts and key
_WORD = {
    text: (tb.LOW_MASK[len(text)], np.uint64(int.from_bytes(text, "little")))
    for text in (b"true", b"false", b"null")
}


class Scratch:
    """Buffers reused from block to block (fresh memory is slow to touch on this kind of VM)."""

    def __init__(self, size: int) -> None:
        self.equal = np.zeros(size, dtype=bool)


@dataclass(frozen=True)
class _Quotes:
    """The quote pairs of the lines that may be decoded (``rows``): ``opening[j, p]`` and
    ``closing[j, p]`` are where pair ``p`` of line ``rows[j]`` opens and closes (pairs past the
    line's own: anything), ``layout[j]`` its kind and ``last[j]`` where its closing brace is;
    ``kind`` is that kind when every line shares it (then ``rows`` is all of them), else None."""

    rows: np.ndarray
    opening: np.ndarray
    closing: np.ndarray
    layout: np.ndarray
    last: np.ndarray
    symbol: np.ndarray  # bool per row: a symbol string (not null)
    good: np.ndarray  # bool per row: the structure checks passed so far
    kind: int | None

    def after_name(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Where the bare value after field ``name`` starts in each row, and its length (to the
        next quote's comma, or to the closing brace after the last field)."""
        if self.kind is not None:
            p = int(_PAIR[name][self.kind])
            at = self.closing[:, p] + 2
            end = self.opening[:, p + 1] - 1 if p + 1 < _PAIRS[self.kind] else self.last
            return at, end - at
        line = np.arange(self.rows.size)
        pairs = _PAIR[name][self.layout]
        at = self.closing[line, pairs] + 2
        following = self.opening[line, np.minimum(pairs + 1, MAX_PAIRS - 1)] - 1
        return at, np.where(pairs + 1 < _PAIRS[self.layout], following, self.last) - at


def _uniform(buf: np.ndarray, quotes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> _Quotes | None:
    """The quote pairs of a block whose lines all have the same layout (the usual case: one
    writer, one kind of key, no near hits): then the quote positions are one (lines x quotes)
    matrix as they are, and each field is a column. None when the block is not like that."""
    n = starts.size
    count = quotes.size // n if n else 0
    if count not in _UNIFORM_CHECKS or quotes.size != count * n:
        return None
    matrix = quotes.reshape(n, count)
    # Each line has at least ``count`` quotes (its first and last lie within it), and there
    # are exactly ``count * n``: so each has exactly ``count``, and row i is line i's.
    if not (bool((matrix[:, 0] >= starts).all()) and bool((matrix[:, -1] < ends).all())):
        return None
    symbol = buf[matrix[:, 2 * _SYMBOL_NAME + 1] + 2] == QUOTE
    with_symbol = bool(symbol[0])
    if not bool((symbol == with_symbol).all()):
        return None
    model = buf[matrix[:, 2 * int(_PAIR["model"][int(with_symbol)]) + 1] + 2] == QUOTE
    with_model = bool(model[0])
    if not bool((model == with_model).all()):
        return None
    kind = with_symbol + 2 * with_model + 4 * (count == 2 * _PAIRS[with_symbol + 2 * with_model + 4])
    if count != 2 * _PAIRS[kind]:
        return None
    expected, checked = _UNIFORM_CHECKS[count][kind]
    # Each field name in its place (its length), and '":"' / '","' around every text value:
    # differences of consecutive quotes (the last column of a row: to the next line's first,
    # not checked), the same checks as the general path's. Lines are < 2 GB: int32 steps.
    steps = np.empty(quotes.size, dtype=np.int32)
    np.subtract(quotes[1:], quotes[:-1], out=steps[:-1], casting="unsafe")
    steps[-1] = 0
    wrong = np.not_equal(steps.reshape(n, count), expected)
    wrong &= checked
    good = ~wrong.view(np.uint16).reshape(n, count // 2).any(axis=1)
    layout = np.full(n, kind, dtype=np.int64)
    return _Quotes(np.arange(n), matrix[:, 0::2], matrix[:, 1::2], layout, ends - 1, symbol, good, kind)


def _uniform_checks(kind: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``_uniform``: each difference of consecutive quotes that is checked (a name's length
    + 1, or 2 between a name and a text value) and which ones are."""
    lengths, adjacent, pairs = _LENGTHS[kind], _ADJACENT[kind], int(_PAIRS[kind])
    expected = np.zeros(2 * pairs, dtype=np.int32)
    checked = np.zeros(2 * pairs, dtype=bool)
    for p in range(pairs):
        if lengths[p] >= 0:
            expected[2 * p], checked[2 * p] = lengths[p] + 1, True
        if p + 1 < pairs and adjacent[p]:
            expected[2 * p + 1], checked[2 * p + 1] = 2, True
    return expected, checked


# by quote count, by kind (only the kinds of that count are used)
_UNIFORM_CHECKS = {
    2 * int(pairs): {kind: _uniform_checks(kind) for kind in range(len(_KINDS)) if _PAIRS[kind] == pairs}
    for pairs in set(_PAIRS.tolist())
}


def _general(
    buf: np.ndarray, quotes: np.ndarray, starts: np.ndarray, ends: np.ndarray, ok: np.ndarray
) -> _Quotes:
    """The quote pairs of any block: each line's quotes gathered, its layout read per line."""
    first = np.searchsorted(quotes, starts)
    count = np.searchsorted(quotes, ends) - first
    ok = ok & np.isin(count, list(_UNIFORM_CHECKS))
    sel = np.flatnonzero(ok)
    padded = np.concatenate([quotes, np.zeros(MAX_QUOTES, dtype=quotes.dtype)])  # for the last lines
    matrix = sliding_window_view(padded, MAX_QUOTES)[first[sel]]  # the (up to) MAX_QUOTES of each line
    opening, closing = matrix[:, 0::2], matrix[:, 1::2]  # per quote pair
    line = np.arange(sel.size)
    symbol = buf[closing[:, _SYMBOL_NAME] + 2] == QUOTE
    model = buf[closing[line, _PAIR["model"][symbol.astype(np.int64)]] + 2] == QUOTE
    layout = symbol + 2 * model
    near = count[sel] == 2 * _PAIRS[layout + 4]
    layout = layout + 4 * near
    good = count[sel] == 2 * _PAIRS[layout]
    # Each field name in its place (its length), and '":"' / '","' around every text value.
    lengths = closing - opening - 1
    gaps = opening[:, 1:] - closing[:, :-1]
    for kind in np.flatnonzero(np.bincount(layout, minlength=len(_KINDS))).tolist():
        expected, adjacent = _LENGTHS[kind], _ADJACENT[kind]
        wrong = ~((lengths[:, expected >= 0] == expected[expected >= 0]).all(axis=1))
        wrong |= ~(gaps[:, adjacent] == 2).all(axis=1)
        good &= ~(wrong & (layout == kind))
    return _Quotes(sel, opening, closing, layout, ends[sel] - 1, symbol, good, None)


def _spelled(word: np.ndarray, length: np.ndarray, text: bytes) -> np.ndarray:
    """Which values are exactly ``text`` (``true``, ``false`` or ``null``), from the 8 bytes
    at each value (``tb.load64``)."""
    mask, value = _WORD[text]
    return (length == len(text)) & ((word & mask) == value)


def _true_or_false(words: np.ndarray, at: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which values are ``true``, and which are ``true`` or ``false``."""
    word = tb.load64(words, at)
    true = _spelled(word, length, b"true")
    return true, true | _spelled(word, length, b"false")


def _whole_or_null(buf: np.ndarray, words: np.ndarray, at: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Which values are ``null`` or a whole number >= 0 (checked, not kept)."""
    word = tb.load64(words, at)
    ok = tb.plain_integers(word, length) | _spelled(word, length, b"null")
    other = np.flatnonzero(~ok)
    if other.size:
        ok[other] = tb.numbers(buf, words, at[other], length[other], True)[1]
    return ok


def decode_fast(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    keys: KeyTable,
    out: dict[str, np.ndarray],
    scratch: Scratch,
    want_tokens: bool,
    escapes: bool = True,
    controls: np.ndarray | None = None,
) -> np.ndarray:
    """Fill ``out`` for the lines laid out exactly as the library writes them; which ones were.
    Token counts are read only when ``want_tokens`` (else checked). ``escapes``: whether the
    block may hold a backslash (False: known not to); ``controls``: where it holds bytes
    that send their line to json (control bytes, which JSON allows in no string, and bytes
    that are not UTF-8)."""
    done = np.zeros(starts.size, dtype=bool)
    keys.fresh.clear()
    words = tb.words_of(buf)
    ok = ((ends - starts) >= 100) & (buf[np.maximum(ends - 1, 0)] == ord("}"))
    ok &= (tb.load64(words, starts) & tb.LOW_MASK[PREFIX_BYTES]) == PREFIX_WORD
    size = int(ends[-1])
    if escapes and np.equal(buf[:size], BACKSLASH, out=scratch.equal[:size]).any():  # for the slow path
        ok[np.searchsorted(starts, np.flatnonzero(scratch.equal[:size]), side="right") - 1] = False
    if controls is not None and controls.size:
        ok[np.searchsorted(starts, controls, side="right") - 1] = False
    quotes = np.flatnonzero(np.equal(buf[:size], QUOTE, out=scratch.equal[:size]))
    q = _uniform(buf, quotes, starts, ends)
    if q is None:
        q = _general(buf, quotes, starts, ends, ok)
    else:
        q.good[:] &= ok
    if q.rows.size == 0:
        return done
    opening, closing, good = q.opening, q.closing, q.good
    for name, given in (("symbol", q.symbol), ("model", (q.layout & 2) != 0)):  # else exactly null
        if q.kind is not None and bool(given[0]):
            continue  # one layout, with this field a string on every line
        at, length = q.after_name(name)
        good &= given | _spelled(tb.load64(words, at), length, b"null")
    hit, spelled = _true_or_false(words, *q.after_name("hit"))
    good &= spelled
    with_near = (q.layout & 4) != 0
    if bool(with_near.any()):  # true or false (the library writes true), not kept
        near = np.flatnonzero(with_near)
        at, length = q.after_name("near")
        good[near] &= _true_or_false(words, at[near], length[near])[1]
    ts, key = _PAIR["ts"][0] + 1, _PAIR["key"][0] + 1  # the pairs of their values, the same in every kind
    t_ms, ts_ok = tb.times(words, opening[:, ts] + 1, closing[:, ts] - opening[:, ts] - 1)
    good &= ts_ok
    key_at, key_len = opening[:, key] + 1, closing[:, key] - opening[:, key] - 1
    good &= (key_len > 0) & (key_len <= MAX_FAST_KEY)
    values = {}
    for name in VALUES if want_tokens else NUMBERS:
        at, length = q.after_name(name)
        values[name], number_ok = tb.numbers(buf, words, at, length, name not in NUMBERS)
        good &= number_ok
    for name in COUNTS if want_tokens else (*TOKENS, *COUNTS):
        good &= _whole_or_null(buf, words, *q.after_name(name))
    pick = np.flatnonzero(good)
    if pick.size == 0:
        return done
    rows = q.rows[pick]
    ids, hashed, parts = keys.find(words, key_at[pick], key_len[pick])
    unknown = np.flatnonzero(ids < 0)
    if unknown.size:
        ids[unknown] = _new_keys(buf, q, keys, pick, unknown, key_at, key_len, hashed, parts)
        good[pick[unknown[ids[unknown] < 0]]] = False  # not UTF-8: the slow path says which line
    kept = good[pick]
    if pick.size == starts.size and bool(kept.all()):  # every line: rows and pick are all of them
        out["key_id"], out["t_ms"], out["hit"] = ids, t_ms, hit
        out.update(values)
        done[:] = True
        return done
    rows, pick = rows[kept], pick[kept]
    out["key_id"][rows] = ids[kept]
    out["t_ms"][rows] = t_ms[pick]
    out["hit"][rows] = hit[pick]
    for name, column in values.items():
        out[name][rows] = column[pick]
    done[rows] = True
    return done


def _new_keys(
    buf: np.ndarray,
    q: _Quotes,
    keys: KeyTable,
    pick: np.ndarray,
    unknown: np.ndarray,
    key_at: np.ndarray,
    key_len: np.ndarray,
    hashed: np.ndarray,
    parts: list[np.ndarray],
) -> np.ndarray:
    """Ids of the keys of lines ``pick[unknown]`` that the index did not know: added (with the
    symbol and data type of their first line) and indexed. -1 for a key, symbol or data type
    that is not UTF-8."""
    lines = pick[unknown]
    first_of, group, key_bytes = tb.group_strings(buf, key_at[lines], key_len[lines], trace_keys.HASH_WORDS)
    found_ids = np.full(first_of.size, -1, dtype=np.int64)
    symbol_pair, type_pair = _PAIR["symbol"][q.layout[lines]], _PAIR["data_type"][q.layout[lines]]
    opening, closing = q.opening, q.closing
    for j in np.argsort(first_of, kind="stable").tolist():  # numbered in order of first appearance
        i = int(first_of[j])
        r = lines[i]
        key = _text(key_bytes[i, : key_len[r]])
        found = keys.ids.get(key) if key is not None else None
        if found is None:
            symbol_text = (
                _text(buf[opening[r, symbol_pair[i] + 1] + 1 : closing[r, symbol_pair[i] + 1]])
                if q.symbol[r]
                else None
            )
            kind = _text(buf[opening[r, type_pair[i] + 1] + 1 : closing[r, type_pair[i] + 1]])
            if key is None or kind is None or (bool(q.symbol[r]) and symbol_text is None):
                continue
            found = keys.add(key, symbol_text, kind)
            keys.fresh[found] = int(q.rows[r])
        found_ids[j] = found
    known = np.flatnonzero(found_ids >= 0)
    if known.size:
        at = unknown[first_of[known]]  # positions in ``pick`` of each key's first line
        keys.remember(found_ids[known], hashed[at], [p[at] for p in parts], key_len[pick[at]])
    return found_ids[group]


def _text(raw: np.ndarray) -> str | None:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None
