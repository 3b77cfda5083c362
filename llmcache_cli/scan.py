"""Batched SCAN with a pipelined per-key step (SPEC section 1). Never ``KEYS``.

``scan_keys`` walks one node with ``SCAN cursor MATCH p COUNT n``. ``scan_fetch`` also runs
per-key commands for each batch, and sends the next ``SCAN`` in the same pipeline as the
current batch's per-key commands, so each batch costs one round trip instead of two.
Keys that vanish between SCAN and the per-key step are skipped by the caller's ``keep``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis.exceptions as rex

from llmcache_cli.client import Node, RedisHandle

SCAN_COUNT = 1000
KEY = object()  # placeholder for the key in a per-key command template


@dataclass(frozen=True)
class Fetched:
    key: bytes
    replies: tuple[Any, ...]


def _scan_args(cursor: int, match: str | None, count: int, type_: str | None) -> list[Any]:
    args: list[Any] = ["SCAN", cursor]
    if match:
        args += ["MATCH", match]
    args += ["COUNT", count]
    if type_:
        args += ["TYPE", type_]
    return args


def _parse_scan(reply: Any) -> tuple[int, list[bytes]]:
    cursor, keys = reply
    return int(cursor), list(keys)


def scan_keys(
    node: Node, match: str | None = None, count: int = SCAN_COUNT, type_: str | None = None
) -> Iterator[list[bytes]]:
    """Yield batches of keys from one node until its cursor returns to 0."""
    cursor = 0
    while True:
        cursor, keys = _parse_scan(node.client.execute_command(*_scan_args(cursor, match, count, type_)))
        if keys:
            yield keys
        if cursor == 0:
            return


def _raise_fatal(replies: Sequence[Any]) -> None:
    # Per-key errors such as WRONGTYPE belong to one key; NOPERM or a lost connection to all.
    for reply in replies:
        if isinstance(
            reply, (rex.NoPermissionError, rex.ConnectionError, rex.TimeoutError, rex.AuthenticationError)
        ):
            raise reply
        if isinstance(reply, rex.ResponseError) and str(reply).startswith(("NOPERM", "NOAUTH", "LOADING")):
            raise reply


def scan_fetch(
    node: Node,
    commands: Sequence[Sequence[Any]],
    match: str | None = None,
    count: int = SCAN_COUNT,
    type_: str | None = None,
    keep: Callable[[Fetched], bool] | None = None,
) -> Iterator[list[Fetched]]:
    """Yield, batch by batch, each key with the replies of ``commands`` (``KEY`` marks the key).

    Replies that are per-key errors (e.g. WRONGTYPE) are returned as exception objects;
    errors that concern the whole connection are raised.
    """
    cursor, keys = _parse_scan(node.client.execute_command(*_scan_args(0, match, count, type_)))
    while True:
        pipe = node.client.pipeline(transaction=False)
        for key in keys:
            for template in commands:
                pipe.execute_command(*[key if part is KEY else part for part in template])
        if cursor != 0:
            pipe.execute_command(*_scan_args(cursor, match, count, type_))
        replies = pipe.execute(raise_on_error=False) if len(pipe) else []
        _raise_fatal(replies)
        width = len(commands)
        batch = [Fetched(key, tuple(replies[i * width : (i + 1) * width])) for i, key in enumerate(keys)]
        if keep is not None:
            batch = [f for f in batch if keep(f)]
        if batch:
            yield batch
        if cursor == 0:
            return
        next_scan = replies[-1]
        if isinstance(next_scan, Exception):
            raise next_scan
        cursor, keys = _parse_scan(next_scan)


def total_keys(handle: RedisHandle) -> int:
    """DBSIZE summed over the primaries (the denominator of a progress bar)."""
    total = 0
    for node in handle.nodes:
        with handle.translated(node):
            total += int(node.client.dbsize())
    return total
