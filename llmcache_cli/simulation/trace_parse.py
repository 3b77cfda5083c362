"""Read a request trace into columns, fast.

Lines laid out as the library writes them are decoded with numpy on the raw bytes, a block at
a time (``trace_layout``): no Python work per line. Any other line (a hand-written trace,
another field order, escapes in strings) goes through ``trace_lines.parse_line``, which defines
what a valid line is and words the errors, with the line number.

Blocks are read into one reused buffer (first-touching fresh memory costs more here than
scanning it), and a large file is read by two processes, one per half, on Linux.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from llmcache_cli.simulation import trace_bytes as tb
from llmcache_cli.simulation.trace_layout import NUMBERS, KeyTable, Scratch, decode_fast
from llmcache_cli.simulation.trace_lines import Line, TraceLineError, parse_line

BLOCK_BYTES = 1 << 23
PARALLEL_MIN_BYTES = 1 << 25  # smaller files are read by one process
NEWLINE = 10
COLUMNS = ("offset", "t_ms", "key_id", "hit", *NUMBERS)


@dataclass
class Columns:
    """One value per record (blank lines dropped), in file order."""

    offset: np.ndarray  # int64: byte offset of the line in the file
    t_ms: np.ndarray  # int64
    key_id: np.ndarray  # int64 into keys
    hit: np.ndarray  # bool
    cost_usd: np.ndarray  # float64
    latency_ms: np.ndarray
    cache_latency_ms: np.ndarray
    input_tokens: np.ndarray  # float64, NaN when null (0 when not asked for)
    output_tokens: np.ndarray
    keys: list[str]
    key_symbol: list[str | None]
    key_type: list[str]
    lines: int = 0  # lines read, blank ones included
    fast_lines: int = 0

    @property
    def size(self) -> int:
        return int(self.t_ms.size)


def read_columns(path: str, where: str, want_tokens: bool = False) -> Columns:
    """The trace's records. Token counts are read only when ``want_tokens``."""
    size = os.path.getsize(path)
    if size < PARALLEL_MIN_BYTES or sys.platform != "linux" or (os.cpu_count() or 1) < 2:
        return _read_range(path, where, 0, size, want_tokens)
    with open(path, "rb") as handle:  # split after the newline nearest the middle
        handle.seek(size // 2)
        handle.readline()
        middle = handle.tell()
    import concurrent.futures
    import multiprocessing

    try:
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("fork")
        )
        second = pool.submit(_read_range, path, where, middle, size, want_tokens)
    except (OSError, RuntimeError):  # no second process here: one reader
        return _read_range(path, where, 0, size, want_tokens)
    with pool:
        try:
            head = _read_range(path, where, 0, middle, want_tokens)
        except BaseException:
            second.cancel()
            raise
        try:
            tail = second.result()
        except TraceLineError as exc:
            raise exc.moved(head.lines) from None
        except (OSError, concurrent.futures.process.BrokenProcessPool):
            try:
                tail = _read_range(path, where, middle, size, want_tokens)
            except TraceLineError as exc:
                raise exc.moved(head.lines) from None
    return _concat(head, tail)


def _concat(head: Columns, tail: Columns) -> Columns:
    keys = KeyTable()
    for k, key in enumerate(head.keys):
        keys.add(key, head.key_symbol[k], head.key_type[k])
    remap = np.array(
        [keys.add(key, tail.key_symbol[k], tail.key_type[k]) for k, key in enumerate(tail.keys)],
        dtype=np.int64,
    )
    joined = {name: np.concatenate([getattr(head, name), getattr(tail, name)]) for name in COLUMNS}
    joined["key_id"] = np.concatenate([head.key_id, remap[tail.key_id]])
    return Columns(
        **joined,
        keys=keys.keys,
        key_symbol=keys.symbol,
        key_type=keys.dtype,
        lines=head.lines + tail.lines,
        fast_lines=head.fast_lines + tail.fast_lines,
    )


def _read_range(path: str, where: str, begin: int, end: int, want_tokens: bool) -> Columns:
    """The records of bytes ``begin..end`` (whole lines); line numbers count from ``begin``."""
    keys = KeyTable()
    parts: list[dict[str, np.ndarray]] = []
    store = bytearray(BLOCK_BYTES + tb.PAD)
    scratch = Scratch(BLOCK_BYTES)
    carry, offset, line_no, fast = 0, begin, 1, 0
    with open(path, "rb") as handle:
        handle.seek(begin)
        left = end - begin
        while True:
            if carry == len(store) - tb.PAD:  # a line longer than the buffer: grow it
                store.extend(bytes(len(store)))
                scratch = Scratch(len(store))
            with memoryview(store) as view:
                got = handle.readinto(view[carry : carry + min(left, len(store) - tb.PAD - carry)])
            left -= got
            size, final = carry + got, left <= 0 or got == 0
            if size == 0:
                break
            buf = np.frombuffer(store, dtype=np.uint8)
            buf[size : size + tb.PAD] = 0
            ends = np.flatnonzero(np.equal(buf[:size], NEWLINE, out=scratch.equal[:size]))
            if final and (ends.size == 0 or ends[-1] != size - 1):
                ends = np.append(ends, size)
            if ends.size:
                starts = np.concatenate(([0], ends[:-1] + 1))
                escapes = store.find(b"\\", 0, size) >= 0  # memchr: far faster than a numpy scan
                block, n_fast = _block(buf, starts, ends, keys, where, line_no, scratch, want_tokens, escapes)
                block["offset"] = block["offset"] + offset
                parts.append(block)
                fast += n_fast
                line_no += int(starts.size)
                used = min(int(ends[-1]) + 1, size)
                carry = size - used
                store[:carry] = store[used:size]
                offset += used
            else:
                carry = size
            del buf
            if final and carry == 0:
                break
    joined = {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0) for name in COLUMNS}
    return Columns(
        offset=joined["offset"].astype(np.int64, copy=False),
        t_ms=joined["t_ms"].astype(np.int64, copy=False),
        key_id=joined["key_id"].astype(np.int64, copy=False),
        hit=joined["hit"].astype(bool, copy=False),
        **{name: joined[name].astype(np.float64, copy=False) for name in NUMBERS},
        keys=keys.keys,
        key_symbol=keys.symbol,
        key_type=keys.dtype,
        lines=line_no - 1,
        fast_lines=fast,
    )


def _block(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    keys: KeyTable,
    where: str,
    first_line: int,
    scratch: Scratch,
    want_tokens: bool,
    escapes: bool = True,
) -> tuple[dict[str, np.ndarray], int]:
    n = starts.size
    ends = np.where((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13), ends - 1, ends)  # CRLF
    out: dict[str, np.ndarray] = {"offset": starts.astype(np.int64), "t_ms": np.zeros(n, np.int64)}
    out["key_id"] = np.zeros(n, np.int64)
    out["hit"] = np.zeros(n, bool)
    out.update({name: np.zeros(n) for name in NUMBERS})
    keep = np.ones(n, dtype=bool)
    done = decode_fast(buf, starts, ends, keys, out, scratch, want_tokens, escapes)
    for i in np.flatnonzero(~done).tolist():
        line = parse_line(bytes(buf[starts[i] : ends[i]]), where, first_line + i)
        if line is None:
            keep[i] = False
        else:
            _put(out, i, line, keys)
    for name in ("cost_usd", "latency_ms", "cache_latency_ms"):
        wrong = np.flatnonzero(done & ~((out[name] >= 0) & np.isfinite(out[name])))
        if wrong.size:
            i = int(wrong[0])
            raise TraceLineError(where, first_line + i, f"{name} must be a number >= 0, got {out[name][i]!r}")
    if bool(keep.all()):
        return out, int(done.sum())
    return {name: values[keep] for name, values in out.items()}, int(done.sum())


def _put(out: dict[str, np.ndarray], i: int, line: Line, keys: KeyTable) -> None:
    out["key_id"][i] = keys.add(line.key, line.symbol, line.data_type)
    for name in ("t_ms", "hit", *NUMBERS):
        out[name][i] = getattr(line, name)
