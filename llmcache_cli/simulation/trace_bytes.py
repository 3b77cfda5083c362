"""Vectorised readers of JSON scalars inside raw bytes: one row per line, no Python per line.

Each takes the byte buffer and, per line, where the value starts and how long it is, and
returns the values and which lines held a value of the expected form (the others go to the
slow path). The buffer must be followed by at least ``PAD`` spare bytes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PAD = 64
NUMBER_WIDTH = 24
ZERO = ord("0")
_U = np.uint64
ONES = _U(0x0101010101010101)
HIGH = _U(0x8080808080808080)
ZEROS = _U(0x3030303030303030)
LOW_MASK = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)
NULL_WORD = _U(int.from_bytes(b"null", "little"))
POW10 = 10.0 ** np.arange(9)


def windows(buf: np.ndarray, at: np.ndarray, length: np.ndarray, width: int) -> np.ndarray:
    """Bytes ``at[i] .. at[i] + length[i]`` of each line, zero-padded to ``width`` (a copy)."""
    rows = sliding_window_view(buf, width)[at]
    np.multiply(rows, np.arange(width, dtype=np.int32)[None, :] < length[:, None], out=rows)
    return rows


def words_of(buf: np.ndarray) -> np.ndarray:
    """The little-endian 64-bit word starting at every byte of ``buf`` (a view: word ``i`` is
    bytes ``i .. i + 7``), for ``load64`` and ``load_words``: one gather per word, unaligned."""
    return np.ndarray(shape=(max(buf.size - 7, 0),), dtype="<u8", buffer=buf, strides=(1,))


def load64(words: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The 8 bytes at each offset ``at``, as one little-endian word each."""
    return words[at]


def load_words(words: np.ndarray, at: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` consecutive words from each offset ``at``: the bytes at ``at``, ``at + 8``, ..."""
    return [words[at + 8 * k] for k in range(count)]


def numbers(
    buf: np.ndarray, words: np.ndarray, at: np.ndarray, length: np.ndarray, nullable: bool
) -> tuple[np.ndarray, np.ndarray]:
    """JSON numbers, in JSON's own form (no leading zero, digits on both sides of a dot); or
    ``null`` when ``nullable`` (NaN). Nullable fields are token counts, so they must also be
    whole numbers >= 0 written without a dot or an exponent, as ``json`` reads an int. Plain
    decimals of up to 8 characters are read 8 bytes at a time; others (exponents, signs, long
    ones) through numpy's own conversion."""
    values, ok, dot = _short_decimals(words, at, length)
    null = np.zeros(at.size, dtype=bool)
    if nullable:
        ok &= ~dot
        null = (length == 4) & ((load64(words, at) & LOW_MASK[4]) == NULL_WORD)
        values[null] = math.nan
    retry = np.flatnonzero(~ok & ~null & (length >= 1) & (length <= NUMBER_WIDTH))
    if retry.size:
        values[retry], ok[retry] = _converted(buf, at[retry], length[retry], nullable)
    ok |= null
    if nullable:
        ok &= null | ((values >= 0) & (values == np.floor(values)))
    return values, ok


def plain_integers(word: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Which values are whole numbers of 1 to 8 digits in JSON's form (no leading zero), from
    the 8 bytes at each value (``load64``): checked, not read."""
    size = np.clip(length, 0, 8)
    value = (word & LOW_MASK[size]) - (ZEROS & LOW_MASK[size])
    ok = (length >= 1) & (length <= 8)
    ok &= (((value + _U(0x7676767676767676)) | value) & HIGH & LOW_MASK[size]) == 0  # all 0..9
    return ok & ~(((value & _U(0xFF)) == 0) & (length > 1))


def _short_decimals(
    words: np.ndarray, at: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``123``, ``0.0081``, ``850.25`` (at most 8 characters, at most one dot, digits on both
    sides of it, no leading zero): exact, as the digits over a power of ten (both exact
    doubles, so the quotient is correctly rounded, as ``float(text)`` is). Also which had a dot."""
    size = np.clip(length, 0, 8)
    ok = (length >= 1) & (length <= 8)
    word = load64(words, at) & LOW_MASK[size]
    dots = _bytes_equal_exact(word, ord("."))
    has_dot = dots != 0
    # The dot's place: the lowest flagged byte, by a multiply that moves its index to the top
    # byte; ``size`` when there is none.
    lowest = dots & (~dots + _U(1))
    dot_at = (((lowest >> _U(7)) * _U(0x0001020304050607)) >> _U(56)).astype(np.int64)
    dot_at = np.where(has_dot, dot_at, size)
    ok &= ((dots & (dots - _U(1))) == 0) & (dot_at != 0) & (dot_at != size - 1)
    # The digits without the dot (without one: ``word`` itself, the shift by >= 64 giving 0).
    above = word >> ((dot_at + 1) << 3).astype(np.uint64)
    word = (word & LOW_MASK[dot_at]) | (above << (dot_at << 3).astype(np.uint64))
    digits = size - has_dot
    value = word - (ZEROS & LOW_MASK[digits])
    ok &= (((value + _U(0x7676767676767676)) | value) & HIGH & LOW_MASK[digits]) == 0  # all 0..9
    ok &= ~(((word & _U(0xFF)) == _U(ord("0"))) & (dot_at > 1))  # "01" (dot_at: the integer digits)
    value <<= ((8 - digits) << 3).astype(np.uint64)
    value = ((value & _U(0x0F0F0F0F0F0F0F0F)) * _U(2561)) >> _U(8)
    value = ((value & _U(0x00FF00FF00FF00FF)) * _U(6553601)) >> _U(16)
    value = ((value & _U(0x0000FFFF0000FFFF)) * _U(42949672960001)) >> _U(32)
    decimals = np.maximum(size - 1 - dot_at, 0)
    return value.astype(np.float64) / POW10[decimals], ok, has_dot


def _bytes_equal_exact(word: np.ndarray, byte: int) -> np.ndarray:
    """The high bit of each byte of ``word`` that equals ``byte`` (exact for every byte)."""
    x = word ^ _U(byte * 0x0101010101010101)
    low7 = _U(0x7F7F7F7F7F7F7F7F)
    return ~(((x & low7) + low7) | x | low7)


_NUMBER_BYTES = np.zeros(256, dtype=bool)
_NUMBER_BYTES[list(b"0123456789.eE+-")] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[list(b"0123456789")] = True


def _converted(
    buf: np.ndarray, at: np.ndarray, length: np.ndarray, whole: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Numbers in any form ``float`` reads, kept only in JSON's form (``whole``: an integer)."""
    width = int(min(NUMBER_WIDTH, int(length.max())))
    rows = windows(buf, at, np.clip(length, 0, width), width)
    inside = np.arange(width)[None, :] < length[:, None]
    digit = _DIGIT[rows]
    lead = (rows[:, 0] == ord("-")).astype(np.int64)  # where the digits start
    line = np.arange(rows.shape[0])
    ok = (length <= width) & (_NUMBER_BYTES[rows] | ~inside).all(axis=1) & digit[line, lead]
    after_lead = digit[line, np.minimum(lead + 1, width - 1)] & (lead + 1 < length)
    ok &= ~((rows[line, lead] == ord("0")) & after_lead)  # no leading zero
    dot = rows == ord(".")
    exponent = (rows == ord("e")) | (rows == ord("E"))
    sign = (rows == ord("+")) | (rows == ord("-"))
    ok &= ~(dot[:, :-1] & ~digit[:, 1:]).any(axis=1) & ~dot[line, length - 1]  # digits after a dot
    ok &= ~(dot[:, 1:] & ~digit[:, :-1]).any(axis=1)  # and before it
    ok &= ~(exponent[:, :-1] & ~(digit[:, 1:] | sign[:, 1:])).any(axis=1)
    if whole:
        ok &= ~(dot | exponent).any(axis=1)
    rows[~ok] = 0
    rows[~ok, 0] = ZERO
    text = rows.view(f"S{width}").ravel()
    try:
        values = text.astype(np.float64)
    except ValueError:  # something like 1.2.3: find which, one at a time (rare)
        values = np.array([_float(raw) for raw in text.tolist()])
        ok &= ~np.isnan(values)
    return values, ok


def _float(raw: bytes) -> float:
    try:
        return float(raw.rstrip(b"\0"))
    except ValueError:
        return math.nan


def _word(text: bytes) -> tuple[np.uint64, np.uint64]:
    """(mask, value) matching the non-space bytes of ``text`` in a little-endian word."""
    mask = value = 0
    for k, char in enumerate(text):
        if char != ord(" "):
            mask |= 0xFF << (8 * k)
            value |= char << (8 * k)
    return _U(mask), _U(value)


def _digit_mask(template: bytes) -> np.uint64:
    return _U(sum(0xFF << (8 * k) for k, char in enumerate(template) if char == ord("d")))


# "YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM", read as four words: separators, then digit places.
_SEPARATORS = (_word(b"    -  -"), _word(b"  T  :  "), _word(b":       "), _word(b"   :    "))
_DIGITS = tuple(_digit_mask(t) for t in (b"dddd-dd-", b"ddTdd:dd", b":dd     ", b"+dd:dd  ", b"dddddd  "))
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def times(words: np.ndarray, at: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM`` (what ``datetime.isoformat`` writes) to epoch
    milliseconds (microseconds truncated, as ``workload.epoch_ms`` does), checked as
    ``datetime.fromisoformat`` would (real dates, hours below 24, offsets below a day).

    The date, the clock to the minute and the zone are worked out once per run of lines that
    share them (a trace is mostly in time order: many requests a minute); the seconds and
    their fraction per line."""
    n = at.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    micro = length == 32
    date, clock, seconds, after = load_words(words, at, 4)
    fraction = (seconds >> _U(32)) | (after << _U(32))  # the 8 bytes from at + 20
    zone = load64(words, at + length - 6)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(date[1:], date[:-1], out=new[1:])
    new[1:] |= clock[1:] != clock[:-1]
    new[1:] |= zone[1:] != zone[:-1]
    first = np.flatnonzero(new)
    minute_s, minute_ok = _minutes(date[first], clock[first], zone[first])
    if first.size == n:
        base, ok = minute_s, minute_ok
    else:
        run = np.cumsum(new) - 1
        base, ok = minute_s[run], minute_ok[run]
    ok &= (length == 25) | (micro & (((seconds >> _U(24)) & _U(0xFF)) == _U(ord("."))))
    mask, value = _SEPARATORS[2]
    ok &= (seconds & mask) == value
    digits = seconds - (ZEROS & _DIGITS[2])
    ok &= (((digits + _U(0x7676767676767676)) | digits) & HIGH & _DIGITS[2]) == 0
    second = _places(digits, 1, 2)
    ok &= second <= 59
    digits = fraction - (ZEROS & _DIGITS[4])
    ok &= ~(((((digits + _U(0x7676767676767676)) | digits) & HIGH & _DIGITS[4]) != 0) & micro)
    millis = np.where(micro, _places(digits, 0, 1, 2), 0)  # microseconds // 1000
    return (base + second) * 1000 + millis, ok


def _places(digits: np.ndarray, *places: int) -> np.ndarray:
    """The decimal number made of the given byte places of ``digits`` (bytes 0..9)."""
    out = ((digits >> _U(8 * places[0])) & _U(0xFF)).astype(np.int64)
    for place in places[1:]:
        out = out * 10 + ((digits >> _U(8 * place)) & _U(0xFF)).astype(np.int64)
    return out


def _minutes(date: np.ndarray, clock: np.ndarray, zone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds of ``YYYY-MM-DDTHH:MM`` at the offset ``+HH:MM``, and whether those
    three words are well formed (``times``' checks of them)."""
    ok = (zone & _U(0xFF) == _U(ord("+"))) | (zone & _U(0xFF) == _U(ord("-")))
    parts = []
    for k, word in ((0, date), (1, clock), (3, zone)):
        mask, value = _SEPARATORS[k]
        ok &= (word & mask) == value
        digits = word - (ZEROS & _DIGITS[k])
        ok &= (((digits + _U(0x7676767676767676)) | digits) & HIGH & _DIGITS[k]) == 0
        parts.append(digits)
    year, month, day = _places(parts[0], 0, 1, 2, 3), _places(parts[0], 5, 6), _places(parts[1], 0, 1)
    hour, minute = _places(parts[1], 3, 4), _places(parts[1], 6, 7)
    zone_hours, zone_minutes = _places(parts[2], 1, 2), _places(parts[2], 4, 5)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days_in_month = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days_in_month)
    ok &= (hour <= 23) & (minute <= 59) & (zone_hours <= 23) & (zone_minutes <= 59)
    # days since 1970-01-01 (proleptic Gregorian, H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    sign = np.where((zone & _U(0xFF)) == _U(ord("-")), -1, 1)
    offset = sign * (zone_hours * 3600 + zone_minutes * 60)
    return days * 86_400 + hour * 3600 + minute * 60 - offset, ok


def group_strings(
    buf: np.ndarray, at: np.ndarray, length: np.ndarray, hash_words: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group equal byte strings: (first row of each group, group of each row, the rows' bytes).

    Rows are grouped by a 64-bit hash of their bytes; the grouping is then checked byte for
    byte, and redone on the bytes themselves if two strings ever shared a hash.
    """
    width = int(-(-max(1, int(length.max())) // 8) * 8)
    rows = windows(buf, at, length, width)
    hashed = (rows.view("<u8") * hash_words[: width // 8]).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(hashed, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if not (rows == rows[first][inverse]).all():
        _, first, inverse = np.unique(rows.view(f"S{width}").ravel(), return_index=True, return_inverse=True)
        inverse = inverse.ravel()
    return first, inverse, rows
