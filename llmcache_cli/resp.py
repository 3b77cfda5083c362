"""The wire-level half of ``scan``: commands packed as RESP once, replies read back in bulk.

Building each command through redis-py's pipeline costs several microseconds of Python, which on
800,000 keys is slower than ``redis-cli --memkeys``. Here a per-key command is a RESP template
filled in with one ``%`` format per key, and the replies are read back with the connection's
public ``read_response``. Connections are borrowed from a node's own pool; this module builds no
client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import redis.exceptions as rex
from redis.connection import ConnectionPool

from llmcache_cli.keys import key_bytes

Reply = Any
KEY = object()  # placeholder for the key in a per-key command template


def _arg(part: Any) -> bytes:
    if isinstance(part, (bytes, str)):
        return key_bytes(part)
    if isinstance(part, int) and not isinstance(part, bool):
        return str(part).encode()
    raise TypeError(f"command arguments are bytes, str or int, not {type(part).__name__}")


def bulk(part: Any) -> bytes:
    """One argument as a RESP bulk string."""
    raw = _arg(part)
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def pack_command(*args: Any) -> bytes:
    """One command in RESP, the form the server reads. Bytes arguments (keys: a script's page
    of a thousand) go straight in, without ``_arg``'s checks."""
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for part in args:
        raw = part if part.__class__ is bytes else _arg(part)
        append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def pack_commands(commands: Iterable[Sequence[Any]]) -> bytes:
    return b"".join(pack_command(*c) for c in commands)


class KeyCommands:
    """Per-key command templates (``KEY`` marks where the key goes), packed once.

    ``pack(keys)`` is one ``%`` format per key, so a batch of 1000 keys costs well under a
    millisecond of Python. No template at all (``width`` 0) is allowed: a scan for keys only.
    """

    def __init__(self, *templates: Sequence[Any]) -> None:
        pieces = []
        for template in templates:
            if sum(part is KEY for part in template) != 1:
                raise ValueError(f"each command names the key exactly once: {template!r}")
            at = next(i for i, part in enumerate(template) if part is KEY)
            head = b"*%d\r\n" % len(template) + b"".join(bulk(p) for p in template[:at])
            tail = b"".join(bulk(p) for p in template[at + 1 :])
            pieces.append(head.replace(b"%", b"%%") + b"$%d\r\n%s\r\n" + tail.replace(b"%", b"%%"))
        self.width = len(templates)
        self._format = b"".join(pieces)

    def pack(self, keys: Sequence[bytes]) -> bytes:
        fmt, width = self._format, self.width
        if width == 0:
            return b""
        if width == 1:
            return b"".join([fmt % (len(k), k) for k in keys])
        return b"".join([fmt % ((len(k), k) * width) for k in keys])


NO_COMMANDS = KeyCommands()


def is_fatal(reply: Reply) -> bool:
    """Per-key errors (WRONGTYPE) belong to one key; NOPERM, NOAUTH, LOADING or a lost
    connection to the whole run."""
    if isinstance(reply, (rex.NoPermissionError, rex.AuthenticationError, rex.ConnectionError)):
        return True
    return isinstance(reply, rex.ResponseError) and str(reply).startswith(("NOPERM", "NOAUTH", "LOADING"))


def raise_fatal(replies: Sequence[Reply]) -> None:
    if any(map(isinstance, replies, repeat(Exception))):  # rare: look closer only then
        for reply in replies:
            if isinstance(reply, Exception) and is_fatal(reply):
                raise reply


@contextlib.contextmanager
def borrowed(pool: ConnectionPool) -> Iterator[Any]:
    """A connection of ``pool`` for the block, returned to it after. If the block does not
    finish (an error, Ctrl-C, a generator closed early), replies may still be in flight on it,
    so it is closed rather than reused."""
    try:
        conn = pool.get_connection()
    except TypeError:  # pragma: no cover - redis-py < 5.3 wants a command name
        conn = pool.get_connection("SCAN")  # type: ignore[call-arg]
    finished = False
    try:
        yield conn
        finished = True
    finally:
        if not finished:
            conn.disconnect()
        pool.release(conn)


def reply_reader(conn: Any) -> Callable[[int], list[Reply]]:
    """``read(n)``: the next ``n`` replies, error replies as exception objects, through the
    connection's public ``read_response`` (hiredis parses them when it is installed)."""

    respond = conn.read_response
    refused = rex.ResponseError

    def read(n: int) -> list[Reply]:
        out: list[Reply] = []
        add = out.append
        for _ in range(n):
            try:
                add(respond(disable_decoding=True))
            except refused as exc:
                # Without its traceback: that holds this frame, and so ``out``, in a cycle only
                # the cyclic GC frees, which kept a page of replies alive per error reply.
                add(exc.with_traceback(None))
        return out

    return read


@dataclass(frozen=True)
class Batch:
    """The keys of one SCAN page (those ``keep`` kept) with their replies: ``replies`` holds
    ``width`` per key, in order; ``tail`` the replies of the batch-level commands; ``scanned``
    how many keys the SCAN page returned before ``keep``. A per-key error reply (WRONGTYPE) is
    the exception object, not raised."""

    keys: list[bytes]
    replies: list[Reply]
    tail: list[Reply]
    scanned: int
