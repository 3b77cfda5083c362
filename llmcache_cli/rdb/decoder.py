"""Decoding the records of an RDB file: lengths, strings (raw, integer, LZF), and every kind of
value, skipped as fast as the memory estimate allows (lengths and encodings, not contents).

``Decoder`` holds the primitives; each takes the current buffer and position and returns the new
ones first (the buffer changes when the reader fetches the next chunk). ``Parser`` (``parser``)
walks the file with them.
"""

from __future__ import annotations

from llmcache_cli.errors import SnapshotError
from llmcache_cli.rdb import encodings, lzf
from llmcache_cli.rdb.memory import ROBJ, Estimator
from llmcache_cli.rdb.reader import Reader

TYPE_NAMES = {
    0: "string", 1: "list", 2: "set", 3: "zset", 4: "hash", 5: "zset", 6: "module", 7: "module",
    9: "hash", 10: "list", 11: "set", 12: "zset", 13: "hash", 14: "list", 15: "stream",
    16: "hash", 17: "zset", 18: "list", 19: "stream", 20: "set", 21: "stream",
    22: "hash", 23: "hash", 24: "hash", 25: "hash",
}  # fmt: skip
_BLOBS = frozenset((9, 10, 11, 12, 13, 16, 17, 20))  # one string: ziplist, intset, listpack
_STREAMS = frozenset((15, 19, 21))
HASHES = frozenset((4, 13, 16))  # the hashes ``Decoder.hash`` can read


def _looks_int(raw: bytes) -> bool:
    """Would the server keep this string as an integer (``string2ll``: no sign but '-', no
    leading zero, fits in 64 bits)?"""
    body = raw[1:] if raw[:1] == b"-" else raw
    if not body or not body.isdigit() or (body[0] == 48 and (len(body) > 1 or raw is not body)):
        return False
    return -(1 << 63) <= int(raw) < (1 << 63)


class Decoder:
    def __init__(self, reader: Reader, name: str) -> None:
        self.r, self.name = reader, name

    # -- primitives: each takes (buf, pos) and returns the new (buf, pos) first -------------
    def _need(self, buf: bytes, pos: int, n: int) -> tuple[bytes, int]:
        return self.r.more(pos, n) if pos + n > len(buf) else (buf, pos)

    def _len(self, buf: bytes, pos: int) -> tuple[bytes, int, int, bool]:
        """A length; the flag says it is a string encoding (0-3) rather than a length."""
        if pos >= len(buf):
            buf, pos = self.r.more(pos, 1)
        b = buf[pos]
        kind = b >> 6
        if kind == 0:
            return buf, pos + 1, b, False
        if kind == 3:
            return buf, pos + 1, b & 0x3F, True
        if kind == 1:
            if pos + 2 > len(buf):
                buf, pos = self.r.more(pos, 2)
            return buf, pos + 2, ((b & 0x3F) << 8) | buf[pos + 1], False
        if b == 0x80:
            if pos + 5 > len(buf):
                buf, pos = self.r.more(pos, 5)
            return buf, pos + 5, int.from_bytes(buf[pos + 1 : pos + 5], "big"), False
        if b == 0x81:
            if pos + 9 > len(buf):
                buf, pos = self.r.more(pos, 9)
            return buf, pos + 9, int.from_bytes(buf[pos + 1 : pos + 9], "big"), False
        raise self.r.corrupt(pos, f"bad length byte 0x{b:02x}")

    def _length(self, buf: bytes, pos: int) -> tuple[bytes, int, int]:
        buf, pos, n, encoded = self._len(buf, pos)
        if encoded:
            raise self.r.corrupt(pos - 1, "a string encoding where a length belongs")
        return buf, pos, n

    def _string(self, buf: bytes, pos: int) -> tuple[bytes, int, bytes]:
        """A string read whole (keys, aux fields): integers as their digits, LZF decompressed."""
        buf, pos, n, encoded = self._len(buf, pos)
        if not encoded:
            if pos + n > len(buf):
                buf, pos = self.r.more(pos, n)
            return buf, pos + n, buf[pos : pos + n]
        if n <= 2:
            size = 1 << n
            if pos + size > len(buf):
                buf, pos = self.r.more(pos, size)
            value = int.from_bytes(buf[pos : pos + size], "little", signed=True)
            return buf, pos + size, str(value).encode()
        if n == 3:
            buf, pos, clen = self._length(buf, pos)
            buf, pos, ulen = self._length(buf, pos)
            if pos + clen > len(buf):
                buf, pos = self.r.more(pos, clen)
            raw = lzf.decompress(buf[pos : pos + clen], ulen)
            if raw is None:
                raise self.r.corrupt(pos, "LZF data that does not decompress")
            return buf, pos + clen, raw
        raise self.r.corrupt(pos - 1, f"unknown string encoding {n}")

    def _skip_string(self, buf: bytes, pos: int) -> tuple[bytes, int, int, bool]:
        """Skip a string; (its length in memory, whether the server holds it as an integer)."""
        buf, pos, n, encoded = self._len(buf, pos)
        if not encoded:
            if pos + n > len(buf):
                if n > 20:  # not an integer: pass over it without holding it
                    buf, pos = self.r.skip(pos, n)
                    return buf, pos, n, False
                buf, pos = self.r.more(pos, n)
            if n <= 20 and n and buf[pos] - 45 < 13:  # starts with '-' or a digit
                return buf, pos + n, n, _looks_int(buf[pos : pos + n])
            return buf, pos + n, n, False
        if n <= 2:
            size = 1 << n
            if pos + size > len(buf):
                buf, pos = self.r.more(pos, size)
            value = int.from_bytes(buf[pos : pos + size], "little", signed=True)
            return buf, pos + size, len(str(value)), True
        if n == 3:
            buf, pos, clen = self._length(buf, pos)
            buf, pos, ulen = self._length(buf, pos)
            buf, pos = self.r.skip(pos, clen)
            return buf, pos, ulen, False
        raise self.r.corrupt(pos - 1, f"unknown string encoding {n}")

    # -- values ---------------------------------------------------------------------------
    def value(self, buf: bytes, pos: int, rtype: int, est: Estimator) -> tuple[bytes, int, int]:
        """Skip a non-string value; its estimated memory."""
        skip = self._skip_string
        if rtype in _BLOBS:
            buf, pos, n, _ = skip(buf, pos)
            return buf, pos, est.blob(n)
        if rtype == 18 or rtype == 14:  # quicklist: nodes of listpacks / ziplists (or plain)
            buf, pos, count = self._length(buf, pos)
            nodes = []
            for _ in range(count):
                if rtype == 18:
                    buf, pos, _container = self._length(buf, pos)
                buf, pos, n, _ = skip(buf, pos)
                nodes.append(n)
            return buf, pos, est.quicklist(nodes)
        if rtype == 2 or rtype == 4 or rtype == 1:  # set, hash, old linked list: sds elements
            buf, pos, count = self._length(buf, pos)
            items = count * 2 if rtype == 4 else count
            payload = 0
            element = est.element
            for _ in range(items):
                buf, pos, n, _ = skip(buf, pos)
                payload += element(n)
            if rtype == 1:
                return buf, pos, est.quicklist([payload])
            return buf, pos, est.hash_table(count, payload)
        if rtype == 5 or rtype == 3:  # skip list: member and score
            buf, pos, count = self._length(buf, pos)
            payload = 0
            for _ in range(count):
                buf, pos, n, _ = skip(buf, pos)
                payload += est.element(n)
                if rtype == 5:
                    buf, pos = self._need(buf, pos, 8)
                    pos += 8
                else:
                    buf, pos = self._need(buf, pos, 1)
                    size = buf[pos]
                    pos += 1 + (size if size < 253 else 0)
            return buf, pos, est.skiplist(count, payload)
        if rtype in _STREAMS:
            return self._stream(buf, pos, rtype, est)
        if rtype == 7:
            return self._module(buf, pos)
        if rtype in (22, 23, 24, 25):  # hashes with field expiries (Redis 7.4)
            if rtype in (24, 25):
                buf, pos = self._need(buf, pos, 8)
                pos += 8  # the smallest field expiry
            if rtype in (23, 25):
                buf, pos, n, _ = skip(buf, pos)
                return buf, pos, est.blob(n) + ROBJ
            buf, pos, count = self._length(buf, pos)
            payload = 0
            for _ in range(count):
                buf, pos, _ttl = self._length(buf, pos)
                for _ in range(2):
                    buf, pos, n, _ = skip(buf, pos)
                    payload += est.element(n)
            return buf, pos, est.hash_table(count, payload + count * 8)
        if rtype == 6:
            raise SnapshotError(
                f"{self.name}: a module value in the pre-release format (RDB type 6) cannot be skipped"
            )
        raise self.r.corrupt(pos, f"unknown value type {rtype}")

    def hash(
        self, buf: bytes, pos: int, rtype: int, est: Estimator
    ) -> tuple[bytes, int, int, dict[bytes, bytes] | None]:
        """A hash read whole (a counter hash): its memory and its fields."""
        if rtype == 4:
            buf, pos, count = self._length(buf, pos)
            items = []
            payload = 0
            for _ in range(2 * count):
                buf, pos, raw = self._string(buf, pos)
                items.append(raw)
                payload += est.element(len(raw))
            return buf, pos, est.hash_table(count, payload), dict(zip(items[::2], items[1::2], strict=True))
        buf, pos, blob = self._string(buf, pos)
        elements = encodings.listpack(blob) if rtype == 16 else encodings.ziplist(blob)
        fields = None if elements is None else dict(zip(elements[::2], elements[1::2], strict=False))
        return buf, pos, est.blob(len(blob)), fields

    def _stream(self, buf: bytes, pos: int, rtype: int, est: Estimator) -> tuple[bytes, int, int]:
        skip, length = self._skip_string, self._length
        buf, pos, count = length(buf, pos)
        masters, listpacks = [], []
        for _ in range(count):
            buf, pos, master = self._string(buf, pos)
            masters.append(master)
            buf, pos, n, _ = skip(buf, pos)  # the listpack
            listpacks.append(n)
        buf, pos, _entries = length(buf, pos)
        for _ in range(2 if rtype == 15 else 7):  # last ID; first ID, max deleted ID, entries added
            buf, pos, _ = length(buf, pos)
        buf, pos, count_groups = length(buf, pos)
        groups = []
        for _ in range(count_groups):
            buf, pos, _n, _ = skip(buf, pos)  # name
            for _ in range(2 if rtype == 15 else 3):  # last ID (, entries read)
                buf, pos, _ = length(buf, pos)
            buf, pos, count_pending = length(buf, pos)
            pending = []
            for _ in range(count_pending):
                buf, pos = self._need(buf, pos, 24)  # the ID and the delivery time
                pending.append(buf[pos : pos + 16])
                buf, pos, _ = length(buf, pos + 24)  # the delivery count
            buf, pos, count_consumers = length(buf, pos)
            consumers = []
            for _ in range(count_consumers):
                buf, pos, name, _ = skip(buf, pos)
                seen = 16 if rtype == 21 else 8  # seen time (and active time)
                buf, pos = self._need(buf, pos, seen)
                buf, pos, count_owned = length(buf, pos + seen)
                buf, pos = self._need(buf, pos, 16 * count_owned)
                owned = [buf[pos + 16 * i : pos + 16 * i + 16] for i in range(count_owned)]
                pos += 16 * count_owned
                consumers.append((name, owned))
            groups.append((pending, consumers))
        return buf, pos, est.stream(masters, listpacks, groups)

    def _module(self, buf: bytes, pos: int) -> tuple[bytes, int, int]:
        """Skip a module value (its module need not be loaded); -1: not measured."""
        buf, pos, _module_id = self._length(buf, pos)
        buf, pos = self._module_opcodes(buf, pos)
        return buf, pos, -1

    def _module_opcodes(self, buf: bytes, pos: int) -> tuple[bytes, int]:
        """Skip a module's typed values (signed, unsigned, float, double, string) up to EOF."""
        while True:
            buf, pos, opcode = self._length(buf, pos)
            if opcode == 0:  # EOF
                return buf, pos
            if opcode in (1, 2):
                buf, pos, _ = self._length(buf, pos)
            elif opcode in (3, 4):
                size = 4 if opcode == 3 else 8
                buf, pos = self._need(buf, pos, size)
                pos += size
            elif opcode == 5:
                buf, pos, _n, _ = self._skip_string(buf, pos)
            else:
                raise self.r.corrupt(pos, f"unknown module opcode {opcode}")
