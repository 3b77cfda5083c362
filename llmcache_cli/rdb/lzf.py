"""LZF decompression (the RDB's string compression), in pure Python.

Only what must be read as text is decompressed: keys, aux fields. Values are never decompressed,
since the RDB states the uncompressed length up front and that is all the memory estimate needs.
"""

from __future__ import annotations


def decompress(data: bytes, expected: int) -> bytes | None:
    """The ``expected`` bytes ``data`` decompresses to; None if it is not valid LZF for them."""
    out = bytearray()
    i, n = 0, len(data)
    try:
        while i < n:
            ctrl = data[i]
            i += 1
            if ctrl < 32:  # a literal run of ctrl + 1 bytes
                end = i + ctrl + 1
                if end > n:
                    return None
                out += data[i:end]
                i = end
                continue
            length = ctrl >> 5
            if length == 7:
                length += data[i]
                i += 1
            ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
            i += 1
            if ref < 0:
                return None
            length += 2
            if ref + length <= len(out):
                out += out[ref : ref + length]
            else:  # overlapping copy: byte by byte
                for k in range(length):
                    out.append(out[ref + k])
    except IndexError:
        return None
    return bytes(out) if len(out) == expected else None
