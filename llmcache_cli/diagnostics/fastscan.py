"""Batched SCAN for the operator reports: pre-packed per-key commands, overlapped round trips.

The commands are the ones SPEC section 1 asks for (``SCAN cursor [MATCH p] COUNT 1000``, then
the per-key commands of each batch in one pipelined write), but sent faster than
``scan.scan_fetch`` can: building each command through redis-py's pipeline costs several
microseconds of Python, which on 800,000 keys is slower than ``redis-cli --memkeys``. Here the
per-key commands are packed from RESP templates built once, the replies are read straight from
the connection's parser, and round trips overlap: every write starts with the *next* SCAN, so
the batch after it is sent as soon as that reply arrives and the server works on batch i+1 while
this process digests batch i.

The connection is borrowed from the node's own pool (no client is built here) and returned to
it clean. If the scan stops half-way (an error, Ctrl-C, the caller breaking out of the loop),
replies are still in flight, so the connection is closed instead of reused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import redis.exceptions as rex
from redis.connection import ConnectionPool

from llmcache_cli.client import Node
from llmcache_cli.scan import KEY, SCAN_COUNT

try:  # redis-py's hiredis parser marks "no complete reply buffered yet" with this sentinel
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NEED_MORE
except ImportError:  # pragma: no cover - other redis-py layouts fall back to read_response
    _NEED_MORE = None

Reply = Any
KeyFilter = Callable[[bytes], bool]


def _arg(part: Any) -> bytes:
    if isinstance(part, bytes):
        return part
    if isinstance(part, str):
        return part.encode("utf-8")
    if isinstance(part, int) and not isinstance(part, bool):
        return str(part).encode()
    raise TypeError(f"command arguments are bytes, str or int, not {type(part).__name__}")


def _bulk(part: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(part), part)


def pack_command(*args: Any) -> bytes:
    """One command in RESP, the form the server reads."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(_arg(a)) for a in args)


class KeyCommands:
    """Per-key command templates (``scan.KEY`` marks where the key goes), packed once.

    ``pack(keys)`` is one ``%`` format per key, so a batch of 1000 keys costs well under a
    millisecond of Python.
    """

    def __init__(self, *templates: Sequence[Any]) -> None:
        if not templates:
            raise ValueError("at least one per-key command is needed")
        pieces = []
        for template in templates:
            if sum(part is KEY for part in template) != 1:
                raise ValueError(f"each command names the key exactly once: {template!r}")
            at = next(i for i, part in enumerate(template) if part is KEY)
            head = b"*%d\r\n" % len(template) + b"".join(_bulk(_arg(p)) for p in template[:at])
            tail = b"".join(_bulk(_arg(p)) for p in template[at + 1 :])
            pieces.append(head.replace(b"%", b"%%") + b"$%d\r\n%s\r\n" + tail.replace(b"%", b"%%"))
        self.width = len(templates)
        self._format = b"".join(pieces)

    def pack(self, keys: Sequence[bytes]) -> bytes:
        fmt, width = self._format, self.width
        if width == 1:
            return b"".join([fmt % (len(k), k) for k in keys])
        return b"".join([fmt % ((len(k), k) * width) for k in keys])


@dataclass(frozen=True)
class Batch:
    """The keys of one SCAN batch and the replies of their commands: ``width`` per key, in order.

    A reply that is a per-key error (e.g. WRONGTYPE) is the exception object, not raised.
    """

    keys: list[bytes]
    replies: list[Reply]


def _is_fatal(reply: Reply) -> bool:
    # Per-key errors (WRONGTYPE) belong to one key; NOPERM, NOAUTH, LOADING or a lost
    # connection to the whole scan.
    if isinstance(reply, (rex.NoPermissionError, rex.AuthenticationError, rex.ConnectionError)):
        return True
    return isinstance(reply, rex.ResponseError) and str(reply).startswith(("NOPERM", "NOAUTH", "LOADING"))


def _check(replies: list[Reply]) -> None:
    if any(map(isinstance, replies, repeat(Exception))):  # rare: look closer only then
        for reply in replies:
            if isinstance(reply, Exception) and _is_fatal(reply):
                raise reply


def _borrow(pool: ConnectionPool) -> Any:
    try:
        return pool.get_connection()
    except TypeError:  # pragma: no cover - redis-py < 5.3 wants a command name
        return pool.get_connection("SCAN")  # type: ignore[call-arg]


def _reply_reader(conn: Any) -> Callable[[int], list[Reply]]:
    """``read(n)``: the next ``n`` replies. The hiredis fast path calls the parser's reader
    directly, skipping redis-py's per-reply bookkeeping (about 1.5 microseconds a reply, more
    than the server spends on most commands); any other parser goes through ``read_response``."""
    parser = getattr(conn, "_parser", None)
    reader = getattr(parser, "_reader", None)
    fill = getattr(parser, "read_from_socket", None)
    if _NEED_MORE is not None and reader is not None and callable(fill):
        gets = reader.gets

        def read_fast(n: int) -> list[Reply]:
            out = [gets(False) for _ in range(n)]
            while out and out[-1] is _NEED_MORE:  # the rest is not buffered yet
                have = out.index(_NEED_MORE)
                del out[have:]
                fill()
                out += [gets(False) for _ in range(n - have)]
            return out

        return read_fast

    def read_one() -> Reply:
        try:
            return conn.read_response(disable_decoding=True)
        except rex.ResponseError as exc:
            return exc

    def read_public(n: int) -> list[Reply]:
        return [read_one() for _ in range(n)]

    return read_public


class _Scanner:
    def __init__(self, match: str | None, count: int) -> None:
        args: list[Any] = ["MATCH", match] if match else []
        args += ["COUNT", count]
        self._argc = 2 + len(args)  # SCAN, cursor, then these
        self._tail = b"".join(_bulk(_arg(a)) for a in args)

    def command(self, cursor: bytes) -> bytes:
        # SCAN's own header counts every argument (SCAN, cursor, MATCH p, COUNT n).
        return b"*%d\r\n$4\r\nSCAN\r\n%s" % (self._argc, _bulk(cursor)) + self._tail

    @staticmethod
    def parse(reply: Reply) -> tuple[bytes, list[bytes]]:
        if isinstance(reply, Exception):
            raise reply
        cursor, keys = reply
        return bytes(cursor), list(keys)


class BatchScan:
    """One pass of SCAN over a node; iterate it for ``Batch``es. Afterwards ``complete`` says
    whether the cursor came back to 0 (every key was seen) rather than ``max_keys`` stopping it."""

    def __init__(
        self,
        node: Node,
        commands: KeyCommands,
        match: str | None,
        count: int,
        max_keys: int | None,
        keep: KeyFilter | None,
    ) -> None:
        self.node, self.commands, self.match, self.count = node, commands, match, count
        self.max_keys, self.keep = max_keys, keep
        self.complete = False

    def __iter__(self) -> Iterator[Batch]:
        scanner = _Scanner(self.match, self.count)
        commands, max_keys, keep = self.commands, self.max_keys, self.keep
        pool = self.node.client.connection_pool
        conn = _borrow(pool)
        width = commands.width
        finished = False
        try:
            conn.send_packed_command([scanner.command(b"0")])
            read = _reply_reader(conn)
            cursor, keys = scanner.parse(read(1)[0])
            seen = len(keys)

            def want_more() -> bool:
                return cursor != b"0" and (max_keys is None or seen < max_keys)

            if keep is not None:
                keys = [k for k in keys if keep(k)]
            more = want_more()
            payload = (scanner.command(cursor) if more else b"") + commands.pack(keys)
            if payload:
                conn.send_packed_command([payload])
            while True:
                next_keys: list[bytes] = []
                next_more = False
                if more:
                    cursor, next_keys = scanner.parse(read(1)[0])
                    seen += len(next_keys)
                    if keep is not None:
                        next_keys = [k for k in next_keys if keep(k)]
                    next_more = want_more()
                    payload = (scanner.command(cursor) if next_more else b"") + commands.pack(next_keys)
                    if payload:
                        conn.send_packed_command([payload])
                replies = read(len(keys) * width)
                _check(replies)
                if keys:
                    yield Batch(keys, replies)
                if not more:
                    break
                keys, more = next_keys, next_more
            finished = True
            self.complete = cursor == b"0"
        finally:
            if not finished:
                conn.disconnect()
            pool.release(conn)


def scan_batches(
    node: Node,
    commands: KeyCommands,
    *,
    match: str | None = None,
    count: int = SCAN_COUNT,
    max_keys: int | None = None,
    keep: KeyFilter | None = None,
) -> BatchScan:
    """The keys SCAN finds on ``node``, batch by batch, with the replies of ``commands``.

    ``max_keys`` stops after about that many keys (whole batches, for sampling). ``keep`` drops
    keys before any per-key command is sent for them (e.g. a symbol's false matches).
    Errors that concern the whole connection are raised (wrap the loop in
    ``handle.translated(node)``); keys that vanished show up as their commands' nil replies.
    """
    return BatchScan(node, commands, match, count, max_keys, keep)
