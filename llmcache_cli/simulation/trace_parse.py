"""Read a request trace into columns, fast: the package's reader (``read_columns``).

Lines laid out as the library writes them (``TraceRecord.to_json``, with or without ``near``)
are decoded with numpy on the raw bytes, a block at a time (``trace_layout``): no Python work
per line. Any other line (a hand-written trace, another field order, escapes in strings) goes
through ``trace_lines.parse_line``, which defines what a valid line is and words the errors,
with the line number: the columns and the error for a bad line are those of the plain reader
(``trace_columns.read_plain``, one ``json.loads`` per line), which ``read_columns`` runs when
asked for ``json``.

Blocks are read into one reused buffer (first-touching fresh memory costs more here than
scanning it), and a large file is read by two processes, one per half, on Linux.

Why numpy and not a JSON library: ``make bench`` replays the 1,000,000-line bench trace with
this reader, with polars and with pyarrow (``benchmarks/trace_readers.py``); neither was within
10% of it (docs/design.md).
"""

from __future__ import annotations

import codecs
import os
import sys
from dataclasses import dataclass

import numpy as np

from llmcache_cli.simulation import trace_bytes as tb
from llmcache_cli.simulation.trace_columns import NUMBERS, TOKENS, Columns, LineField, read_plain
from llmcache_cli.simulation.trace_keys import KeyTable
from llmcache_cli.simulation.trace_layout import VALUES, Scratch, decode_fast
from llmcache_cli.simulation.trace_lines import Line, TraceLineError, parse_line

READERS = ("numpy", "json")
PREFERRED = "numpy"
BLOCK_BYTES = 1 << 23
PARALLEL_MIN_BYTES = 1 << 25  # smaller files are read by one process
NEWLINE, CR = 10, 13
COLUMNS = ("offset", "t_ms", "key_id", "hit", *VALUES)


def read_columns(path: str, where: str, reader: str | None = None, want_tokens: bool = True) -> Columns:
    """The trace's records, read by ``reader`` (``numpy``, ``json``; None: ``PREFERRED``).
    Bad lines raise ``TraceLineError`` naming the first one, whichever reader reads. Without
    ``want_tokens`` the numpy reader checks the token counts but reads a record's only when
    asked (the replay prices tokens only for ``--model``)."""
    if (reader or PREFERRED) == "json":
        return read_plain(path, where)
    size = os.path.getsize(path)
    if size < PARALLEL_MIN_BYTES or sys.platform != "linux" or (os.cpu_count() or 1) < 2:
        return _range(path, where, 0, size, want_tokens).columns(path, want_tokens)
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
        second = pool.submit(_range, path, where, middle, size, want_tokens)
    except (OSError, RuntimeError):  # no second process here: one reader
        return _range(path, where, 0, size, want_tokens).columns(path, want_tokens)
    with pool:
        try:
            head = _range(path, where, 0, middle, want_tokens)
        except BaseException:
            second.cancel()
            raise
        try:
            tail = second.result()
        except TraceLineError as exc:
            raise exc.moved(head.lines) from None
        except (OSError, concurrent.futures.process.BrokenProcessPool):
            try:
                tail = _range(path, where, middle, size, want_tokens)
            except TraceLineError as exc:
                raise exc.moved(head.lines) from None
    return head.joined(tail).columns(path, want_tokens)


@dataclass
class _Range:
    """The records of a part of the file, and its keys."""

    values: dict[str, np.ndarray]  # COLUMNS (the tokens only when wanted)
    keys: KeyTable
    lines: int  # lines read, blank ones included
    fast_lines: int  # lines decoded by trace_layout
    renumber: bool  # keys not numbered in order of first appearance (see ``_put``)

    def joined(self, tail: _Range) -> _Range:
        add, theirs = self.keys.add, tail.keys
        remap = np.array(
            [add(key, theirs.symbol[k], theirs.dtype[k]) for k, key in enumerate(theirs.keys)], dtype=np.int64
        )
        values = {name: np.concatenate([column, tail.values[name]]) for name, column in self.values.items()}
        values["key_id"] = np.concatenate([self.values["key_id"], remap[tail.values["key_id"]]])
        lines, fast = self.lines + tail.lines, self.fast_lines + tail.fast_lines
        return _Range(values, self.keys, lines, fast, self.renumber or tail.renumber)

    def columns(self, path: str, want_tokens: bool) -> Columns:
        v, keys = self.values, self.keys
        offsets = v["offset"].astype(np.int64, copy=False)
        key_id, names, symbols, types = v["key_id"], keys.keys, keys.symbol, keys.dtype
        if self.renumber:
            used, first = np.unique(key_id, return_index=True)
            order = used[np.argsort(first)]
            renumber = np.zeros(len(names), dtype=np.int64)
            renumber[order] = np.arange(order.size)
            key_id = renumber[key_id]
            firsts = order.tolist()
            names, symbols, types = ([values[k] for k in firsts] for values in (names, symbols, types))
        return Columns(
            t_ms=v["t_ms"].astype(np.int64, copy=False),
            key_id=key_id.astype(np.int64, copy=False),
            hit=v["hit"].astype(bool, copy=False),
            cost_usd=v["cost_usd"],  # float64, as are the others: np.zeros
            latency_ms=v["latency_ms"],
            cache_latency_ms=v["cache_latency_ms"],
            input_tokens=v["input_tokens"] if want_tokens else LineField(path, offsets, "input_tokens"),
            output_tokens=v["output_tokens"] if want_tokens else LineField(path, offsets, "output_tokens"),
            model=LineField(path, offsets, "model"),
            keys=names,
            key_symbol=symbols,
            key_type=types,
            reader="numpy",
            fast_lines=self.fast_lines,
        )


def _range(path: str, where: str, begin: int, end: int, want_tokens: bool) -> _Range:
    """The records of bytes ``begin..end`` (whole lines); line numbers count from ``begin``."""
    keys = KeyTable()
    parts: list[dict[str, np.ndarray]] = []
    store = bytearray(BLOCK_BYTES + tb.PAD)
    scratch = Scratch(BLOCK_BYTES)
    carry, offset, line_no, fast, renumber = 0, begin, 1, 0, False
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
            # line ends, and in the same pass (signed: bytes >= 0x80 are below 0x20 too) the
            # bytes that send a line to json: a control byte (but a CR before a newline, part
            # of the line end), or a byte of text that is not UTF-8
            marks = np.flatnonzero(np.less(buf[:size].view(np.int8), 0x20, out=scratch.equal[:size]))
            newline = buf[marks] == NEWLINE
            ends, others = marks[newline], marks[~newline]
            if final and (ends.size == 0 or ends[-1] != size - 1):
                ends = np.append(ends, size)
            if others.size and ends.size:
                others = others[others < ends[-1]]
                others = others[(buf[others] != CR) | (buf[others + 1] != NEWLINE)]
                high = buf[others] >= 0x80
                if bool(high.any()) and _utf8(store, int(ends[-1])):
                    others = others[~high]
            if ends.size:
                starts = np.concatenate(([0], ends[:-1] + 1))
                escapes = store.find(b"\\", 0, size) >= 0  # memchr: far faster than a numpy scan
                block, n_fast, new_key = _block(
                    buf, starts, ends, keys, where, line_no, scratch, want_tokens, escapes, others
                )
                renumber |= new_key
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
    kept = COLUMNS if want_tokens else [name for name in COLUMNS if name not in TOKENS]
    joined = {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0) for name in kept}
    return _Range(joined, keys, line_no - 1, fast, renumber)


def _utf8(store: bytearray, end: int) -> bool:
    """Whether the first ``end`` bytes are UTF-8 text (one C pass)."""
    with memoryview(store) as view, view[:end] as text:
        try:
            codecs.utf_8_decode(text, "strict", True)
        except UnicodeDecodeError:
            return False
    return True


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
    controls: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], int, bool]:
    """The block's records, how many ``decode_fast`` took, and whether a line it did not
    take brought a new key."""
    n = starts.size
    ends = np.where((ends > starts) & (buf[np.maximum(ends - 1, 0)] == CR), ends - 1, ends)  # CRLF
    out: dict[str, np.ndarray] = {"offset": starts.astype(np.int64), "t_ms": np.zeros(n, np.int64)}
    out["key_id"] = np.zeros(n, np.int64)
    out["hit"] = np.zeros(n, bool)
    out.update({name: np.zeros(n) for name in VALUES})
    keep = np.ones(n, dtype=bool)
    new_key = False
    done = decode_fast(buf, starts, ends, keys, out, scratch, want_tokens, escapes, controls)
    for name in NUMBERS:  # a negative or infinite number: parse_line words it, in line order
        done &= (out[name] >= 0) & np.isfinite(out[name])
    for i in np.flatnonzero(~done).tolist():
        line = parse_line(bytes(buf[starts[i] : ends[i]]), where, first_line + i)
        if line is None:
            keep[i] = False
        else:
            new_key |= _put(out, i, line, keys)
    if bool(keep.all()):
        return out, int(done.sum()), new_key
    return {name: values[keep] for name, values in out.items()}, int(done.sum()), new_key


def _put(out: dict[str, np.ndarray], i: int, line: Line, keys: KeyTable) -> bool:
    """Row ``i`` from ``parse_line``; whether its key is new (then the keys may need to be
    numbered again: ``decode_fast`` added the block's other new keys before)."""
    known = len(keys.keys)
    k = out["key_id"][i] = keys.add(line.key, line.symbol, line.data_type)
    if keys.fresh.get(k, -1) > i:  # its first record is this one, not the fast line's
        keys.symbol[k], keys.dtype[k] = line.symbol, line.data_type
        keys.fresh[k] = i
    for name in ("t_ms", "hit", *VALUES):
        out[name][i] = getattr(line, name)
    return k == known
