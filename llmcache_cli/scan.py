"""The one batched SCAN (docs/design.md, "Connecting"): ``SCAN cursor [MATCH p] COUNT 1000``, never ``KEYS``,
and for each batch the per-key commands in one pipelined write. Every scan in llmcache (the
operator reports, invalidation, purge-version) goes through here.

Each write starts with the *next* SCAN and carries the current batch's per-key commands (packed
once as RESP, see ``resp``), then optional batch-level commands (``tail``: an ``UNLINK`` of the
keys, an ``SREM`` from an index). With ``overlap`` (the default, for read-only work) the write
after it is sent as soon as that SCAN's reply arrives, so the server works on batch i+1 while
this process digests batch i. Deletions use ``overlap=False``: nothing is in flight when a batch
is handed over, so a run that stops there (Ctrl-C, a server failure) knows exactly what ran.

A ``PageScript`` takes SCAN's place where the per-key step is a read-only script: one
``EVAL_RO`` runs the SCAN itself and the per-key commands of the keys it found, and returns the
cursor, the keys and their replies; nothing is sent per key, and the keys make no round trip
back to the server. The overlap is the same: the next page's script is sent as soon as a page
arrives.

Keys that vanish between SCAN and the per-key step come back as their commands' nil replies.
A connection is borrowed from the node's own pool and returned clean; if a scan stops half-way
with replies in flight, the connection is closed instead of reused. ``each_node`` runs one scan
per primary of a cluster, concurrently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llmcache_cli.client import Node, RedisHandle
from llmcache_cli.resp import (
    KEY,
    NO_COMMANDS,
    Batch,
    KeyCommands,
    Reply,
    borrowed,
    bulk,
    pack_command,
    pack_commands,
    raise_fatal,
    reply_reader,
)
from llmcache_cli.scan_nodes import NodeScan, each_node

__all__ = [
    "KEY",
    "SCAN_COUNT",
    "Batch",
    "BatchScan",
    "KeyCommands",
    "NodeScan",
    "PageScript",
    "Tail",
    "each_node",
    "fetch",
    "node_sizes",
    "pack_command",
    "scan_batches",
    "scan_keys",
    "total_keys",
]

SCAN_COUNT = 1000
KeyFilter = Callable[[bytes], bool]
PageHook = Callable[[int], None]
# Batch-level commands for the (kept) keys of a batch, sent after their per-key commands.
Tail = Callable[[list[bytes]], Sequence[Sequence[Any]]]


@dataclass(frozen=True)
class PageScript:
    """A read-only Lua script that runs one SCAN page itself: it gets SCAN's arguments (the
    cursor first) as ``ARGV`` and returns ``{cursor, keys, replies}``, ``width`` replies per key
    in key order, as ``KeyCommands`` of that width would have."""

    source: str
    width: int


class _Scanner:
    """A page is ``SCAN cursor ...``, whose keys' replies come from the per-key commands; or,
    with a page script, ``EVAL_RO script 0 cursor ...``, which brings them with the keys."""

    def __init__(self, match: str | None, count: int, type_: str | None, page: PageScript | None) -> None:
        args: list[Any] = ["MATCH", match] if match else []
        args += ["COUNT", count]
        if type_:
            args += ["TYPE", type_]
        self.page = page
        self.width = 0 if page is None else page.width
        if page is None:  # SCAN, cursor, then these
            self._head = b"*%d\r\n$4\r\nSCAN\r\n" % (2 + len(args))
        else:  # EVAL_RO, the script, no KEYS, cursor, then these
            self._head = b"*%d\r\n$7\r\nEVAL_RO\r\n%s$1\r\n0\r\n" % (4 + len(args), bulk(page.source))
        self._tail = b"".join(bulk(a) for a in args)

    def command(self, cursor: bytes) -> bytes:
        return self._head + bulk(cursor) + self._tail

    def parse(self, reply: Reply) -> tuple[bytes, list[bytes], list[Reply]]:
        """(cursor, keys, the keys' replies if a page script brought them)."""
        if isinstance(reply, Exception):
            raise reply
        if self.page is None:
            cursor, keys = reply
            return bytes(cursor), list(keys), []
        cursor, keys, replies = reply
        return bytes(cursor), list(keys), list(replies)


@dataclass
class _Write:
    """What one write asked for: a SCAN (``more``), the per-key commands of ``keys``, ``tail``;
    ``replies``: the keys' replies a page script already brought."""

    keys: list[bytes]
    scanned: int
    more: bool
    tail: int = 0
    replies: list[Reply] | None = None


class BatchScan:
    """One pass of SCAN over a node; iterate it for ``Batch``es (one per SCAN page, empty ones
    included). Afterwards ``complete`` says whether the cursor came back to 0 (every key was
    seen) rather than ``max_keys`` stopping it."""

    def __init__(
        self,
        node: Node,
        commands: KeyCommands,
        *,
        match: str | None = None,
        count: int = SCAN_COUNT,
        type_: str | None = None,
        max_keys: int | None = None,
        keep: KeyFilter | None = None,
        tail: Tail | None = None,
        on_page: PageHook | None = None,
        overlap: bool = True,
        check: bool = True,
        script: PageScript | None = None,
    ) -> None:
        if script is not None and commands.width:
            raise ValueError("a page script brings the per-key replies: no per-key commands with it")
        self.node, self.commands, self.max_keys = node, commands, max_keys
        self.keep, self.tail, self.on_page, self.overlap, self.check = keep, tail, on_page, overlap, check
        self._scanner = _Scanner(match, count, type_, script)
        self.complete = False

    def __iter__(self) -> Iterator[Batch]:
        scanner, width = self._scanner, self.commands.width
        with borrowed(self.node.client.connection_pool) as conn:
            read = reply_reader(conn)
            conn.send_packed_command([scanner.command(b"0")])
            cursor, raw, found = scanner.parse(read(1)[0])
            seen = len(raw)
            write = self._send(conn, cursor, raw, found, seen)
            while True:
                n = width * len(write.keys)
                scan_reply: Reply = None
                if write.more and self.overlap:
                    cursor, raw, found = scanner.parse(read(1)[0])
                    seen += len(raw)
                    following = self._send(conn, cursor, raw, found, seen)
                    replies = read(n + write.tail)
                elif write.more:
                    scan_reply, *replies = read(1 + n + write.tail)
                else:
                    replies = read(n + write.tail)
                if self.check:
                    raise_fatal(replies)
                if write.replies is not None:  # brought by the page script (a failed call fails it all)
                    own = write.replies
                else:
                    own = replies if len(replies) == n else replies[:n]  # no copy without a tail
                yield Batch(write.keys, own, replies[n:], write.scanned)
                if not write.more:
                    break
                if not self.overlap:  # only now: nothing was in flight while the caller had the batch
                    cursor, raw, found = scanner.parse(scan_reply)
                    seen += len(raw)
                    following = self._send(conn, cursor, raw, found, seen)
                write = following
            self.complete = cursor == b"0"

    def _send(self, conn: Any, cursor: bytes, raw: list[bytes], found: list[Reply], seen: int) -> _Write:
        """Send the write for a page just read (with the next SCAN unless it was the last);
        ``found``: the page's replies when a page script brought them."""
        if self.on_page is not None:
            self.on_page(len(raw))  # before anything is sent for the page: it may stop the scan
        scanner = self._scanner
        keys = raw
        if self.keep is not None:
            keys, found = _kept(raw, found, scanner.width, self.keep)
        more = cursor != b"0" and (self.max_keys is None or seen < self.max_keys)
        commands = self.tail(keys) if self.tail is not None and keys else ()
        payload = (scanner.command(cursor) if more else b"") + self.commands.pack(keys)
        if commands:
            payload += pack_commands(commands)
        if payload:
            conn.send_packed_command([payload])
        return _Write(keys, len(raw), more, len(commands), None if scanner.page is None else found)


def _kept(
    raw: list[bytes], replies: list[Reply], width: int, keep: KeyFilter
) -> tuple[list[bytes], list[Reply]]:
    """The keys ``keep`` keeps, each once (SCAN may return a key twice), and their ``width``
    replies each (none for a plain SCAN page)."""
    first: dict[bytes, int] = {}
    for i, key in enumerate(raw):
        if key not in first and keep(key):
            first[key] = i
    return list(first), [replies[width * i + j] for i in first.values() for j in range(width)]


def scan_batches(
    node: Node,
    commands: KeyCommands = NO_COMMANDS,
    *,
    match: str | None = None,
    count: int = SCAN_COUNT,
    max_keys: int | None = None,
    keep: KeyFilter | None = None,
    tail: Tail | None = None,
    on_page: PageHook | None = None,
    overlap: bool = True,
    check: bool = True,
    script: PageScript | None = None,
) -> BatchScan:
    """The keys SCAN finds on ``node``, page by page, with the replies of ``commands``.

    ``max_keys`` stops after about that many keys (whole pages, for sampling). ``keep`` drops
    keys before any command is sent for them (e.g. a symbol's false matches); ``tail`` adds
    batch-level commands for the kept keys. ``on_page(n)`` hears of each SCAN page (``n`` keys)
    before anything is sent for it, so a progress callback that raises (Ctrl-C) stops the scan
    with none of that page's commands sent. ``overlap=False`` leaves nothing in flight while the
    caller holds a batch (for deletions). Errors that concern the whole connection are raised
    (wrap the loop in ``handle.translated(node)``) unless ``check`` is off, and then the caller
    checks every reply itself. ``script`` runs each page (SCAN and per-key step) in one
    read-only script instead (then ``commands`` is empty).
    """
    return BatchScan(
        node,
        commands,
        match=match,
        count=count,
        max_keys=max_keys,
        keep=keep,
        tail=tail,
        on_page=on_page,
        overlap=overlap,
        check=check,
        script=script,
    )


def fetch(
    node: Node,
    keys: Sequence[bytes],
    commands: KeyCommands = NO_COMMANDS,
    tail: Sequence[Sequence[Any]] = (),
    *,
    check: bool = True,
) -> Batch:
    """The per-key step for keys known beforehand (an index's members, a preview's keys): one
    write, one read, on the node's own connection."""
    keys = list(keys)
    n = commands.width * len(keys)
    with borrowed(node.client.connection_pool) as conn:
        payload = commands.pack(keys) + pack_commands(tail)
        if payload:
            conn.send_packed_command([payload])
        replies = reply_reader(conn)(n + len(tail))
    if check:
        raise_fatal(replies)
    return Batch(keys, replies[:n], replies[n:], len(keys))


def scan_keys(
    node: Node, match: str | None = None, count: int = SCAN_COUNT, type_: str | None = None
) -> Iterator[list[bytes]]:
    """Yield the non-empty pages of keys of one node until its cursor returns to 0."""
    for batch in BatchScan(node, NO_COMMANDS, match=match, count=count, type_=type_):
        if batch.keys:
            yield batch.keys


def node_sizes(handle: RedisHandle) -> list[int]:
    """DBSIZE of each primary, in ``handle.nodes`` order."""
    sizes = []
    for node in handle.nodes:
        with handle.translated(node):
            sizes.append(int(node.client.dbsize()))
    return sizes


def total_keys(handle: RedisHandle) -> int:
    """DBSIZE summed over the primaries (the denominator of a progress bar)."""
    return sum(node_sizes(handle))
