"""Taking apart the lines the library writes, on raw bytes with numpy.

``TraceRecord.to_json`` writes the fields in one order with compact separators, so a line's
fields sit between its double quotes at known places: 34 quotes, plus 2 when the symbol and 2
when the model is a string rather than null. ``decode_fast`` checks each line's structure
(every field name in its place, the separators, ``true``/``false``/``null``, the time and number
forms) and decodes those that pass; the caller sends the others to ``trace_lines``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from llmcache_cli.keys import data_type_of
from llmcache_cli.simulation import trace_bytes as tb

MAX_FAST_KEY = 256
QUOTE, BACKSLASH = 34, 92
PREFIX = np.frombuffer(b'{"ts":"', dtype=np.uint8)
HASH_WORDS = np.random.default_rng(20250602).integers(1, 2**63, size=MAX_FAST_KEY // 8, dtype=np.uint64)
NUMBERS = ("input_tokens", "output_tokens", "cost_usd", "latency_ms", "cache_latency_ms")


def _layout(symbol: bool, model: bool) -> tuple[list[int], list[bool], dict[str, int]]:
    """For one layout (symbol / model given or null): per quote pair, the expected length
    (names; -1 for values); whether the next pair follows at once (``":"`` or ``","``: a text
    value after a name or a name after a text value); and the pair index of each name."""
    pairs: list[tuple[str, str]] = [
        ("ts", "n"),
        ("", "v"),
        ("key", "n"),
        ("", "v"),
        ("namespace", "n"),
        ("", "v"),
    ]
    pairs += (
        [("symbol", "n")] + ([("", "v")] if symbol else []) + [("data_type", "n"), ("", "v"), ("hit", "n")]
    )
    pairs += [("model", "n")] + ([("", "v")] if model else [])
    pairs += [(name, "n") for name in (*NUMBERS, "ttl_seconds")]
    where = {name: p for p, (name, kind) in enumerate(pairs) if kind == "n"}
    lengths = [len(name) if kind == "n" else -1 for name, kind in pairs] + [-1] * (19 - len(pairs))
    kinds = [kind for _, kind in pairs]
    adjacent = [p + 1 < len(kinds) and "v" in (kinds[p], kinds[p + 1]) for p in range(18)]
    return lengths, adjacent, where


_LAYOUTS = [_layout(bool(c & 1), bool(c & 2)) for c in range(4)]
_LENGTHS = np.array([lay[0] for lay in _LAYOUTS])
_ADJACENT = np.array([lay[1] for lay in _LAYOUTS])
_PAIR = {
    name: np.array([lay[2][name] for lay in _LAYOUTS])
    for name in ("symbol", "data_type", "hit", "model", *NUMBERS)
}


class KeyTable:
    """Key -> id, with the symbol and data type of its first record."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.keys: list[str] = []
        self.symbol: list[str | None] = []
        self.dtype: list[str] = []

    def add(self, key: str, symbol: str | None, data_type: str) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.keys)
            self.keys.append(key)
            self.symbol.append(symbol)
            self.dtype.append(data_type_of(data_type))
        return found


class Scratch:
    """Buffers reused from block to block (fresh memory is slow to touch on this kind of VM)."""

    def __init__(self, size: int) -> None:
        self.equal = np.zeros(size, dtype=bool)


def decode_fast(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    keys: KeyTable,
    out: dict[str, np.ndarray],
    scratch: Scratch,
    want_tokens: bool,
) -> np.ndarray:
    """Fill ``out`` for the lines laid out exactly as the library writes them; which ones were."""
    done = np.zeros(starts.size, dtype=bool)
    ok = ((ends - starts) >= 100) & (buf[np.maximum(ends - 1, 0)] == ord("}"))
    ok &= (sliding_window_view(buf, PREFIX.size)[starts] == PREFIX).all(axis=1)
    size = int(ends[-1])
    if np.equal(buf[:size], BACKSLASH, out=scratch.equal[:size]).any():  # the slow path decodes escapes
        ok[np.searchsorted(starts, np.flatnonzero(scratch.equal[:size]), side="right") - 1] = False
    quotes = np.flatnonzero(np.equal(buf[:size], QUOTE, out=scratch.equal[:size]))
    first = np.searchsorted(quotes, starts)
    count = np.searchsorted(quotes, ends) - first
    ok &= ((count == 34) | (count == 36) | (count == 38)) & (first + 38 <= quotes.size)
    sel = np.flatnonzero(ok)
    if sel.size == 0:
        return done
    matrix = sliding_window_view(quotes, 38)[first[sel]]  # the (up to) 38 quotes of each line
    opening, closing = matrix[:, 0::2], matrix[:, 1::2]  # per quote pair
    line = np.arange(sel.size)
    symbol = buf[closing[:, 6] + 2] == QUOTE
    model = buf[closing[line, 10 + symbol] + 2] == QUOTE
    layout = symbol + 2 * model
    good = count[sel] == 34 + 2 * symbol + 2 * model
    # Each field name in its place (its length), and '":"' / '","' around every text value.
    lengths = closing - opening - 1
    gaps = opening[:, 1:] - closing[:, :-1]
    for kind in np.flatnonzero(np.bincount(layout, minlength=4)).tolist():
        expected, adjacent = _LENGTHS[kind], _ADJACENT[kind]
        wrong = ~((lengths[:, expected >= 0] == expected[expected >= 0]).all(axis=1))
        wrong |= ~(gaps[:, adjacent] == 2).all(axis=1)
        good &= ~(wrong & (layout == kind))

    def after_name(name: str) -> tuple[np.ndarray, np.ndarray]:
        """Where the bare value after ``name`` starts, and its length."""
        p = _PAIR[name][layout]
        at = closing[line, p] + 2
        return at, opening[line, p + 1] - 1 - at

    for name, given in (("symbol", symbol), ("model", model)):  # else exactly null
        at, length = after_name(name)
        good &= given | ((length == 4) & (buf[at] == ord("n")))
    at, length = after_name("hit")
    hit = (buf[at] == ord("t")) & (length == 4)
    good &= hit | ((buf[at] == ord("f")) & (length == 5))
    words = tb.words_of(buf)
    t_ms, ts_ok = tb.times(words, opening[:, 1] + 1, closing[:, 1] - opening[:, 1] - 1)
    good &= ts_ok
    key_at, key_len = opening[:, 3] + 1, closing[:, 3] - opening[:, 3] - 1
    good &= (key_len > 0) & (key_len <= MAX_FAST_KEY)
    values = {}
    for name in NUMBERS if want_tokens else NUMBERS[2:]:
        at, length = after_name(name)
        values[name], number_ok = tb.numbers(buf, words, at, length, name.endswith("tokens"))
        good &= number_ok
    pick = np.flatnonzero(good)
    if pick.size == 0:
        return done
    rows = sel[pick]
    first_of, group, key_bytes = tb.group_strings(buf, key_at[pick], key_len[pick], HASH_WORDS)
    ids = np.zeros(first_of.size, dtype=np.int64)
    symbol_pair, type_pair = _PAIR["symbol"][layout[pick]], _PAIR["data_type"][layout[pick]]
    picked_len = key_len[pick]
    for j, i in enumerate(first_of.tolist()):
        key = _text(key_bytes[i, : picked_len[i]])
        found = keys.ids.get(key) if key is not None else None
        if found is None:
            r = pick[i]
            symbol_text = (
                _text(buf[opening[r, symbol_pair[i] + 1] + 1 : closing[r, symbol_pair[i] + 1]])
                if symbol[r]
                else None
            )
            kind = _text(buf[opening[r, type_pair[i] + 1] + 1 : closing[r, type_pair[i] + 1]])
            if key is None or kind is None or (bool(symbol[r]) and symbol_text is None):
                good[pick[group == j]] = False  # not UTF-8: the slow path says which line
                continue
            found = keys.add(key, symbol_text, kind)
        ids[j] = found
    kept = good[pick]
    rows, pick = rows[kept], pick[kept]
    out["key_id"][rows] = ids[group[kept]]
    out["t_ms"][rows] = t_ms[pick]
    out["hit"][rows] = hit[pick]
    for name, column in values.items():
        out[name][rows] = column[pick]
    done[rows] = True
    return done


def _text(raw: np.ndarray) -> str | None:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None
