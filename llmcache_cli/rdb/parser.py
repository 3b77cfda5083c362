"""A streaming walk of an RDB snapshot (versions 9 to 12): every key, its type, its expiry and
its estimated memory, in batches, with the file's aux fields and checksum.

The file is read in big chunks (``reader``) and each record decoded only as far as the report
needs: keys are read whole; values are skipped, keeping the lengths and encodings that decide
their memory (``memory``). Module values are skipped through their typed opcodes and counted.
Anything that does not parse (a truncated file, a bad opcode, a checksum that does not match)
raises ``SnapshotError`` naming the file and the byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from llmcache_cli.errors import SnapshotError
from llmcache_cli.rdb.decoder import HASHES, TYPE_NAMES, Decoder, _looks_int
from llmcache_cli.rdb.memory import JEMALLOC, Estimator, for_server
from llmcache_cli.rdb.reader import Reader

MIN_VERSION, MAX_VERSION = 9, 12
BATCH = 1000
NO_EXPIRY = -1

# Opcodes
_SLOT_INFO, _FUNCTION2, _FUNCTION_PRE_GA, _MODULE_AUX = 0xF4, 0xF5, 0xF6, 0xF7
_IDLE, _FREQ, _AUX, _RESIZEDB, _EXPIRE_MS, _EXPIRE, _SELECTDB, _EOF = (
    0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF,
)  # fmt: skip

_MARGIN = 64  # bytes the fast path wants in the buffer before it looks at a record

Progress = Callable[[int], None]


@dataclass
class KeyBatch:
    """Up to ``BATCH`` keys of one database, in file order, as parallel lists."""

    db: int
    keys: list[bytes] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)
    expires: list[int] = field(default_factory=list)  # absolute unix ms, or NO_EXPIRY
    # The fields of the hashes the caller asked for (``capture``), by key.
    hashes: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)


@dataclass
class SnapshotInfo:
    """What the file said about itself; filled in as the walk goes."""

    path: str
    rdb_version: int = 0
    aux: dict[str, str] = field(default_factory=dict)
    keys: dict[int, int] = field(default_factory=dict)  # per database
    module_values: int = 0  # module-typed keys skipped (counted, not measured)
    functions: int = 0  # function libraries
    checksum: str = "not read"  # "ok", "absent" (written with rdbchecksum no), "not checked"
    bytes: int = 0
    allocator: str = JEMALLOC
    profile: str = ""

    @property
    def server_version(self) -> str | None:
        return self.aux.get("valkey-ver") or self.aux.get("redis-ver")

    @property
    def ctime_ms(self) -> int | None:
        raw = self.aux.get("ctime")
        return int(raw) * 1000 if raw and raw.lstrip("-").isdigit() else None


def _fresh(db: int) -> tuple[KeyBatch, list[bytes], Any, Any, Any, Any]:
    """A new batch, its key list and the appenders the hot loop uses."""
    batch = KeyBatch(db)
    keys = batch.keys
    return batch, keys, keys.append, batch.types.append, batch.memory.append, batch.expires.append


class Parser(Decoder):
    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        *,
        db: int | None = None,
        allocator: str = JEMALLOC,
        on_progress: Progress | None = None,
        capture: Callable[[bytes], bool] | None = None,
        cluster: bool = False,
    ) -> None:
        super().__init__(Reader(stream, name), name)
        self.capture, self.cluster = capture, cluster
        self.db, self.on_progress = db, on_progress
        self.info = SnapshotInfo(name, allocator=allocator)
        self.est: Estimator | None = None

    # -- the walk -------------------------------------------------------------------------
    def _header(self) -> tuple[bytes, int]:
        buf, _ = self.r.more(0, 9)
        if buf[:5] != b"REDIS" or not buf[5:9].isdigit():
            raise SnapshotError(f"{self.name}: not an RDB snapshot (it does not start with REDIS)")
        version = int(buf[5:9])
        if not MIN_VERSION <= version <= MAX_VERSION:
            raise SnapshotError(
                f"{self.name}: RDB version {version} is not supported (versions {MIN_VERSION} to "
                f"{MAX_VERSION}: Redis 6.2 to 7.4, Valkey 7 and 8)"
            )
        self.info.rdb_version = version
        return buf, 9

    def _estimator(self) -> Estimator:
        if self.est is None:
            profile = for_server(self.info.server_version, "valkey-ver" in self.info.aux)
            self.est = Estimator(profile, self.info.allocator, self.cluster)
            self.info.profile = profile.name
        return self.est

    def batches(self) -> Iterator[KeyBatch]:
        buf, pos = self._header()
        info, want = self.info, self.db
        db = 0
        batch, batch_keys, add_key, add_type, add_memory, add_expire = _fresh(db)
        expire = NO_EXPIRY
        est: Estimator | None = None
        string_table = key_table = None
        embedded = False
        reported = 0
        progress = self.on_progress
        skip, read, length = self._skip_string, self._string, self._length
        fast = 0  # keys counted by the fast path, not yet in info.keys
        fast_ok = False  # the fast path applies: the estimator is known and the database wanted
        while True:
            end = len(buf)
            if end - pos < _MARGIN:
                buf, pos = self.r.fill(pos, _MARGIN)
                end = len(buf)
                if pos >= end:
                    raise self.r.truncated(self.r.offset)
                if progress is not None:
                    offset = self.r.offset
                    progress(offset - reported)
                    reported = offset
            # The fast path: [expiry] a string under a key of < 16 KB, its value raw (< 16 KB),
            # an integer or LZF-compressed, all inside the buffer. Anything else, or anything
            # that does not fit, goes the general way below from the same byte.
            if fast_ok and end - pos >= _MARGIN:
                p = pos
                op = buf[p]
                record_expire = NO_EXPIRY
                if op == _EXPIRE_MS:
                    record_expire = int.from_bytes(buf[p + 1 : p + 9], "little", signed=True)
                    p += 9
                    op = buf[p]
                if op == 0:
                    b = buf[p + 1]
                    if b < 0x40:
                        k, p = b, p + 2
                    elif b < 0x80:
                        k, p = ((b & 0x3F) << 8) | buf[p + 2], p + 3
                    else:
                        k = -1
                    q = -1
                    if k >= 0 and p + k + 12 <= end:
                        key = buf[p : p + k]
                        p += k
                        b = buf[p]
                        integer = False
                        if b < 0x40:
                            n, q = b, p + 1 + b
                            if n and n <= 20 and buf[p + 1] - 45 < 13:
                                integer = _looks_int(buf[p + 1 : q])
                        elif b < 0x80:
                            n = ((b & 0x3F) << 8) | buf[p + 1]
                            q = p + 2 + n
                        elif b == 0xC3:  # LZF: compressed length, then the length in memory
                            c = buf[p + 1]
                            if c < 0x40:
                                clen, r = c, p + 2
                            elif c < 0x80:
                                clen, r = ((c & 0x3F) << 8) | buf[p + 2], p + 3
                            else:
                                clen = r = -1
                            if clen >= 0:
                                u = buf[r]
                                if u < 0x40:
                                    n, q = u, r + 1 + clen
                                elif u < 0x80:
                                    n, q = ((u & 0x3F) << 8) | buf[r + 1], r + 2 + clen
                        elif 0xC0 <= b <= 0xC2:
                            n, integer, q = 0, True, p + 1 + (1 << (b - 0xC0))
                    if 0 <= q <= end:
                        add_key(key)
                        add_type("string")
                        memory = 16 if integer else string_table[n] if n < 4096 else est.string(n)  # type: ignore[index,union-attr]
                        add_memory(memory + (key_table[k] if k < 1024 else est.key(k)))  # type: ignore[index,union-attr]
                        add_expire(record_expire)
                        fast += 1
                        pos = q
                        if len(batch_keys) >= BATCH:
                            yield batch
                            batch, batch_keys, add_key, add_type, add_memory, add_expire = _fresh(db)
                        continue
            if fast:
                info.keys[db] = info.keys.get(db, 0) + fast
                fast = 0
            op = buf[pos]
            pos += 1
            if op < 0xF4:  # a key and its value (strings that missed the fast path too)
                if est is None:
                    est = self._estimator()
                    string_table, key_table = est.string_table, est.key_table
                    embedded = est.profile.embedded_keys
                    fast_ok = not embedded and (want is None or db == want)
                buf, pos, key = read(buf, pos)
                if op == 0:
                    buf, pos, n, integer = skip(buf, pos)
                    if embedded:
                        memory = est.valkey_string(len(key), n, integer, expire != NO_EXPIRY)
                    else:
                        memory = est.string(n, integer) + est.key(len(key))
                else:
                    if self.capture is not None and op in HASHES and self.capture(key):
                        buf, pos, memory, fields = self.hash(buf, pos, op, est)
                        if fields is not None and (want is None or db == want):
                            batch.hashes[key] = fields
                    else:
                        buf, pos, memory = self.value(buf, pos, op, est)
                    if memory >= 0:
                        if embedded:
                            memory = est.valkey_object(len(key), memory, expire != NO_EXPIRY)
                        else:
                            memory += est.key(len(key))
                if memory < 0:
                    info.module_values += 1
                elif want is None or db == want:
                    add_key(key)
                    add_type(TYPE_NAMES[op])
                    add_memory(memory)
                    add_expire(expire)
                    if len(batch_keys) >= BATCH:
                        yield batch
                        batch, batch_keys, add_key, add_type, add_memory, add_expire = _fresh(db)
                info.keys[db] = info.keys.get(db, 0) + 1
                expire = NO_EXPIRY
            elif op == _EXPIRE_MS:
                buf, pos = self._need(buf, pos, 8)
                expire = int.from_bytes(buf[pos : pos + 8], "little", signed=True)
                pos += 8
            elif op == _EXPIRE:
                buf, pos = self._need(buf, pos, 4)
                expire = int.from_bytes(buf[pos : pos + 4], "little", signed=True) * 1000
                pos += 4
            elif op == _SELECTDB:
                buf, pos, db = length(buf, pos)
                if batch.keys:
                    yield batch
                batch, batch_keys, add_key, add_type, add_memory, add_expire = _fresh(db)
                fast_ok = est is not None and not embedded and (want is None or db == want)
            elif op == _AUX:
                buf, pos, name = read(buf, pos)
                buf, pos, value = read(buf, pos)
                info.aux[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
            elif op == _RESIZEDB:
                buf, pos, _ = length(buf, pos)
                buf, pos, _ = length(buf, pos)
            elif op == _FREQ:
                buf, pos = self._need(buf, pos, 1)
                pos += 1
            elif op == _IDLE:
                buf, pos, _ = length(buf, pos)
            elif op == _FUNCTION2:
                buf, pos, _n, _ = skip(buf, pos)
                info.functions += 1
            elif op == _MODULE_AUX:
                buf, pos, _module = length(buf, pos)
                buf, pos, _when_opcode = length(buf, pos)
                buf, pos, _when = length(buf, pos)
                buf, pos = self._module_opcodes(buf, pos)
            elif op == _SLOT_INFO:
                for _ in range(3):
                    buf, pos, _ = length(buf, pos)
            elif op == _EOF:
                if batch.keys:
                    yield batch
                self._finish(buf, pos)
                if progress is not None:
                    progress(self.info.bytes - reported)
                return
            else:  # _FUNCTION_PRE_GA
                raise SnapshotError(
                    f"{self.name}: functions in the pre-release format (Redis 7.0 RC) are not supported"
                )

    def _finish(self, buf: bytes, pos: int) -> None:
        """After the EOF opcode: the CRC64 of everything before the checksum, then nothing."""
        computed = self.r.checksum(pos)
        buf, pos = self._need(buf, pos, 8)
        stored = int.from_bytes(buf[pos : pos + 8], "little")
        self.info.bytes = self.r.offset + pos + 8
        if stored == 0:
            self.info.checksum = "absent"
        elif computed is None:
            self.info.checksum = "not checked"
        elif computed != stored:
            raise SnapshotError(
                f"{self.name}: corrupt RDB file: checksum {stored:016x} stored, {computed:016x} computed",
                hint="the file was damaged after it was written: take the snapshot again",
            )
        else:
            self.info.checksum = "ok"
        if self.r.tail(pos + 8):
            raise SnapshotError(f"{self.name}: corrupt RDB file: bytes after the end-of-file checksum")
