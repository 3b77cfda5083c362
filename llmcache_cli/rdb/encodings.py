"""The element lists inside a value blob: listpack (Redis 7+) and ziplist (Redis 6.2).

Only needed where a report reads values rather than sizes (llmcache's counter hashes, a few small
keys): each returns the elements as bytes (integers as their digits), or None when the blob does
not parse as that encoding.
"""

from __future__ import annotations


def _backlen_size(length: int) -> int:
    if length <= 127:
        return 1
    if length < 16383:
        return 2
    if length < 2097151:
        return 3
    if length < 268435455:
        return 4
    return 5


def listpack(blob: bytes) -> list[bytes] | None:
    out: list[bytes] = []
    i, n = 6, len(blob)
    try:
        while i < n:
            b = blob[i]
            if b == 0xFF:
                return out
            if b < 0x80:  # 7-bit unsigned
                value, size = str(b).encode(), 1
            elif b < 0xC0:  # 6-bit string length
                length = b & 0x3F
                value, size = blob[i + 1 : i + 1 + length], 1 + length
            elif b < 0xE0:  # 13-bit signed
                raw = ((b & 0x1F) << 8) | blob[i + 1]
                value, size = str(raw - (1 << 13) if raw >= 1 << 12 else raw).encode(), 2
            elif b < 0xF0:  # 12-bit string length
                length = ((b & 0x0F) << 8) | blob[i + 1]
                value, size = blob[i + 2 : i + 2 + length], 2 + length
            elif b == 0xF0:  # 32-bit string length
                length = int.from_bytes(blob[i + 1 : i + 5], "little")
                value, size = blob[i + 5 : i + 5 + length], 5 + length
            elif 0xF1 <= b <= 0xF4:  # 16, 24, 32, 64-bit signed
                width = (2, 3, 4, 8)[b - 0xF1]
                value = str(int.from_bytes(blob[i + 1 : i + 1 + width], "little", signed=True)).encode()
                size = 1 + width
            else:
                return None
            out.append(value)
            i += size + _backlen_size(size)
    except IndexError:
        return None
    return None


def ziplist(blob: bytes) -> list[bytes] | None:
    out: list[bytes] = []
    i, n = 10, len(blob)
    try:
        while i < n:
            if blob[i] == 0xFF:
                return out
            i += 1 if blob[i] < 254 else 5  # the previous entry's length
            b = blob[i]
            kind = b >> 6
            if kind == 0:
                length, i = b & 0x3F, i + 1
            elif kind == 1:
                length, i = ((b & 0x3F) << 8) | blob[i + 1], i + 2
            elif kind == 2:
                length, i = int.from_bytes(blob[i + 1 : i + 5], "big"), i + 5
            else:
                width = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}.get(b)
                if width is None:
                    if not 0xF1 <= b <= 0xFD:
                        return None
                    out.append(str((b & 0x0F) - 1).encode())
                    i += 1
                    continue
                out.append(str(int.from_bytes(blob[i + 1 : i + 1 + width], "little", signed=True)).encode())
                i += 1 + width
                continue
            out.append(blob[i : i + length])
            i += length
    except IndexError:
        return None
    return None
