"""Big buffered reads of an RDB file, with the CRC64 of everything consumed.

The parser works on ``buf`` (bytes) between ``pos`` and ``len(buf)`` and calls ``more(pos, n)``
when it needs ``n`` bytes past ``pos``: the unread tail is kept, a new chunk appended, and the
bytes already read are folded into the running checksum. So the file is read once, in chunks of
a few megabytes, and nothing but the current chunk is ever held.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from llmcache_cli.errors import SnapshotError

CHUNK = 4 << 20


def _crc64() -> object | None:
    try:
        import anycrc
    except ImportError:  # pragma: no cover - a dependency; the check is skipped without it
        return None
    return anycrc.Model("CRC64-REDIS")


class Reader:
    def __init__(self, stream: BinaryIO, name: str, chunk: int = CHUNK) -> None:
        self.stream, self.name, self.chunk = stream, name, chunk
        try:
            self.size: int | None = os.fstat(stream.fileno()).st_size
        except (AttributeError, OSError, ValueError):
            self.size = None  # not a file: lengths are checked as the bytes arrive
        self.buf = b""
        self.offset = 0  # file offset of buf[0]
        self._crc_model = _crc64()
        self.crc = 0

    def more(self, pos: int, need: int) -> tuple[bytes, int]:
        """Make ``need`` bytes available from ``pos``; returns (buf, pos) with pos rebased."""
        done = self.buf[:pos]
        if done and self._crc_model is not None:
            self.crc = self._crc_model.calc(done, self.crc)  # type: ignore[attr-defined]
        rest = self.buf[pos:]
        self.offset += pos
        if self.size is not None and self.offset + need > self.size:
            raise self.truncated(self.size)  # a length beyond the end (cut short, or corrupt)
        want = max(self.chunk, need - len(rest))
        parts = [rest]
        got = len(rest)
        while got < need:
            data = self.stream.read(want)
            if not data:
                raise self.truncated(self.offset + got)
            parts.append(data)
            got += len(data)
        self.buf = b"".join(parts)
        return self.buf, 0

    def skip(self, pos: int, n: int) -> tuple[bytes, int]:
        """Pass over ``n`` bytes from ``pos`` (a value not needed) without holding them: a huge
        value costs one chunk of memory, not its size."""
        end = pos + n
        if end <= len(self.buf):
            return self.buf, end
        if self._crc_model is not None:
            self.crc = self._crc_model.calc(self.buf, self.crc)  # type: ignore[attr-defined]
        remaining = end - len(self.buf)
        self.offset += len(self.buf)
        self.buf = b""
        if self.size is not None and self.offset + remaining > self.size:
            raise self.truncated(self.size)
        while remaining > 0:
            data = self.stream.read(min(self.chunk, remaining))
            if not data:
                raise self.truncated(self.offset)
            if self._crc_model is not None:
                self.crc = self._crc_model.calc(data, self.crc)  # type: ignore[attr-defined]
            remaining -= len(data)
            self.offset += len(data)
        return self.buf, 0

    def fill(self, pos: int, want: int) -> tuple[bytes, int]:
        """Like ``more`` but content with fewer than ``want`` bytes at the end of the file."""
        done = self.buf[:pos]
        if done and self._crc_model is not None:
            self.crc = self._crc_model.calc(done, self.crc)  # type: ignore[attr-defined]
        rest = self.buf[pos:]
        self.offset += pos
        data = self.stream.read(max(self.chunk, want))
        self.buf = rest + data if data else rest
        return self.buf, 0

    def truncated(self, at: int) -> SnapshotError:
        return SnapshotError(
            f"{self.name}: truncated RDB file (a record runs past its end, byte {at:,})",
            hint="the snapshot was cut short or damaged: take it again",
        )

    def corrupt(self, pos: int, what: str) -> SnapshotError:
        return SnapshotError(f"{self.name}: corrupt RDB file at byte {self.offset + pos:,}: {what}")

    def checksum(self, pos: int) -> int | None:
        """CRC64 of the file up to ``pos`` (exclusive); None when no CRC library is installed."""
        if self._crc_model is None:
            return None
        return self._crc_model.calc(self.buf[:pos], self.crc)  # type: ignore[attr-defined,no-any-return]

    def tail(self, pos: int) -> bytes:
        """Whatever follows ``pos`` (after the checksum there should be nothing)."""
        return self.buf[pos:] + self.stream.read(16)
