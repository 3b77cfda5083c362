"""Fetch an RDB snapshot over the replication protocol, as ``redis-cli --rdb`` does.

On one of the node's own connections (so AUTH, TLS and timeouts are the client module's): a
``REPLCONF rdb-only 1`` (Redis 7+: the server sends the snapshot and no replication stream
after it), then ``SYNC``. The server forks to write the snapshot, its main thread keeps serving,
and meanwhile it sends newlines to keep the link alive. Then comes either ``$<length>`` and that
many bytes (a snapshot written to disk first), or ``$EOF:<40-byte mark>``, the bytes and the mark
again (diskless replication). The bytes go to ``<file>.part``, renamed to the file once complete;
the connection is closed afterwards, never reused.

A server that refuses (a managed service without SYNC, an ACL without it) is one error pointing
to that service's backup export.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcache_cli.client import Node
from llmcache_cli.errors import PermissionDenied, RedisOperationError
from llmcache_cli.resp import borrowed

CHUNK = 1 << 20
WAIT_SECONDS = 120.0  # the longest silence (no keep-alive newline either) before giving up
EOF_MARK = 40

Progress = Callable[[int, int | None], None]  # (bytes received so far, total when known)


@dataclass(frozen=True)
class Fetched:
    node: str
    path: Path
    bytes: int
    seconds: float
    diskless: bool


def refusal(node: str, reason: str) -> RedisOperationError:
    return PermissionDenied(
        f"{node} refused to hand out a snapshot over the replication protocol ({reason})",
        hint="managed services (ElastiCache, Memorystore, Azure Cache, Upstash ...) do not allow "
        "SYNC: export a backup from the service's console or API (an RDB file) and run "
        "'llmcache large-keys --rdb FILE' on it; on your own server, the ACL user needs +sync "
        "and +replconf",
    )


class _Socket:
    """Raw reads from a connected redis-py connection, after the command was sent."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.buf = b""

    def recv(self) -> bytes:
        data = self.sock.recv(CHUNK)
        if not data:
            raise ConnectionError("the server closed the connection")
        return data

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            self.buf += self.recv()
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")


def fetch(node: Node, path: Path, on_progress: Progress | None = None) -> Fetched:
    """Write ``node``'s snapshot to ``path``; see the module docstring."""
    part = path.with_name(path.name + ".part")
    started = time.monotonic()
    with borrowed(node.client.connection_pool) as conn:
        try:
            size, diskless = _transfer(node, conn, part, on_progress)
            os.replace(part, path)
        finally:
            with contextlib.suppress(OSError):
                part.unlink()
            conn.disconnect()  # mid-replication: never handed to anyone else
    return Fetched(node.name, path, size, time.monotonic() - started, diskless)


def _transfer(node: Node, conn: Any, part: Path, on_progress: Progress | None) -> tuple[int, bool]:
    try:
        with contextlib.suppress(Exception):  # older servers do not know rdb-only: harmless
            conn.send_command("REPLCONF", "rdb-only", "1")
            conn.read_response()
        conn.send_command("SYNC")
        sock = _Socket(conn._sock)
        conn._sock.settimeout(WAIT_SECONDS)
        header = b""
        while not header:  # newlines keep the link alive while the server writes the snapshot
            header = sock.line()
        if header.startswith(b"-"):
            raise refusal(node.name, header[1:].decode("utf-8", "replace").strip())
        if not header.startswith(b"$"):
            raise RedisOperationError(f"{node.name}: unexpected reply to SYNC: {header[:80]!r}")
        diskless = header.startswith(b"$EOF:")
        with part.open("wb") as out:
            if diskless:
                size = _copy_until_mark(sock, out, header[5:], on_progress)
            else:
                size = _copy_length(sock, out, int(header[1:]), on_progress)
    except RedisOperationError:
        raise
    except (OSError, ValueError, ConnectionError) as exc:
        raise RedisOperationError(f"{node.name}: the snapshot transfer failed: {exc}") from None
    return size, diskless


def _copy_length(sock: _Socket, out: Any, length: int, on_progress: Progress | None) -> int:
    done = 0
    data, sock.buf = sock.buf, b""
    while True:
        data = data[: length - done]
        out.write(data)
        done += len(data)
        if on_progress is not None:
            on_progress(done, length)
        if done >= length:
            return done
        data = sock.recv()


def _copy_until_mark(sock: _Socket, out: Any, mark: bytes, on_progress: Progress | None) -> int:
    if len(mark) != EOF_MARK:
        raise RedisOperationError(f"unexpected EOF mark in the reply to SYNC: {mark!r}")
    done = 0
    tail = b""  # the last bytes, which may be (part of) the mark
    data, sock.buf = sock.buf, b""
    while True:
        tail += data
        if tail.endswith(mark):
            body = tail[:-EOF_MARK]
            out.write(body)
            return done + len(body)
        keep = tail[-EOF_MARK:]
        body = tail[: len(tail) - len(keep)]
        out.write(body)
        done += len(body)
        tail = keep
        if on_progress is not None:
            on_progress(done, None)
        data = sock.recv()
