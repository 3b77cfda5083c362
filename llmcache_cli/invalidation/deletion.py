"""What deleting a batch of confirmed keys sends, for the CLI and the library alike, and what a
deletion that stops half-way reports.

``deletion_commands`` is the whole rule: ``UNLINK`` the keys (one per hash slot in a cluster)
and ``SREM`` each key that has a symbol from that symbol's index set, so that every deletion,
whatever selected the keys (a symbol, an event, a glob, a cache version), leaves each index
exactly the keys that still exist. Only the transport differs: the CLI sends the commands node
by node through ``scan.fetch`` (an index set on another node gets its own round trip), the
library through its async client.

A deletion interrupted by a server failure or Ctrl-C says how many keys are already gone and
that a rerun finishes the job: deleted keys are simply not found again, so rerunning the same
command is always safe. A deletion the ACL refuses says so instead: rerunning as the same user
would be refused again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import redis.exceptions as rex
from redis.crc import key_slot

from llmcache_cli.client import RedisHandle
from llmcache_cli.errors import PartialFailure, PermissionDenied, RedisOperationError
from llmcache_cli.invalidation.outcome import Invalidation, InvalidationInterrupted, TargetResult
from llmcache_cli.keys import InvalidKeyPart, parse_key, symbol_index_key
from llmcache_cli.scan import fetch

KEY_BATCH = 1000
Progress = Callable[[int], None]
K = TypeVar("K", str, bytes)
Command = tuple[Any, ...]


def unlink_groups(keys: Sequence[bytes], cluster: bool) -> list[list[bytes]]:
    """One UNLINK per batch; in a cluster one per hash slot (multi-key commands need one slot)."""
    if not cluster:
        return [list(keys)]
    groups: dict[int, list[bytes]] = {}
    for key in keys:
        groups.setdefault(key_slot(key), []).append(key)
    return list(groups.values())


def by_node(handle: RedisHandle, keys: Iterable[K]) -> dict[int, list[K]]:
    """``keys`` grouped by the index (in ``handle.nodes``) of the primary that holds them."""
    out: dict[int, list[K]] = {}
    for key in keys:
        out.setdefault(handle.node_index(key), []).append(key)
    return out


def index_removals(keys: Iterable[bytes], entities: Iterable[str]) -> dict[str, list[bytes]]:
    """Each key that has a symbol (a stock entity), under its symbol's index set: the sets a
    deletion must SREM from (SREM of a set that does not exist costs nothing)."""
    stock_entities = frozenset(entities)
    out: dict[str, list[bytes]] = {}
    for key in keys:
        parsed = parse_key(key)
        symbol = parsed.symbol(stock_entities) if parsed else None
        if parsed is None or symbol is None:
            continue
        try:
            index_key = symbol_index_key(symbol, parsed.entity)
        except InvalidKeyPart:  # e.g. "{AAPL": no writer could have given it an index
            continue
        out.setdefault(index_key, []).append(key)
    return out


def srem_commands(removals: Mapping[str, Sequence[bytes]]) -> list[Command]:
    return [("SREM", index_key, *members) for index_key, members in removals.items() if members]


def deletion_commands(keys: Sequence[bytes], cluster: bool, entities: Iterable[str]) -> list[Command]:
    """Everything that deletes ``keys`` and keeps every symbol's index exact, in one pipeline
    (the library's transport: its cluster client routes each command by its key)."""
    return unlink_commands(keys, cluster) + srem_commands(index_removals(keys, entities))


def removals_on(
    handle: RedisHandle, removals: Mapping[str, list[bytes]], node_i: int
) -> tuple[dict[str, list[bytes]], dict[int, dict[str, list[bytes]]]]:
    """Split ``index_removals`` into the index sets on node ``node_i`` (their SREM rides in that
    node's pipeline) and the others, by node (a cluster whose entries are not hash-tagged)."""
    here: dict[str, list[bytes]] = {}
    elsewhere: dict[int, dict[str, list[bytes]]] = {}
    for index_key, members in removals.items():
        node = handle.node_index(index_key)
        (here if node == node_i else elsewhere.setdefault(node, {}))[index_key] = members
    return here, elsewhere


def unlink_commands(keys: Sequence[bytes], cluster: bool) -> list[Command]:
    """UNLINK ``keys``: one command per batch, one per hash slot in a cluster."""
    return [("UNLINK", *group) for group in unlink_groups(keys, cluster)] if keys else []


def unlinked(replies: Sequence[Any], unlinks: int) -> int:
    """How many keys the first ``unlinks`` commands (the UNLINKs) removed, from the replies.
    They count even if another reply is an error: they ran on the server."""
    return sum(r for r in replies[:unlinks] if isinstance(r, int))


def srem_elsewhere(handle: RedisHandle, elsewhere: Mapping[int, Mapping[str, Sequence[bytes]]]) -> None:
    """Remove deleted keys from index sets that live on other nodes than the keys did
    (``elsewhere`` as ``removals_on`` gives it)."""
    for node_i, removals in elsewhere.items():
        node = handle.nodes[node_i]
        with handle.translated(node):
            check_deletion(fetch(node, (), tail=srem_commands(removals), check=False).tail, 0)


def check_replies(replies: Iterable[Any]) -> None:
    """Raise the first error reply of a pipeline run with ``raise_on_error=False``."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def is_wrongtype(reply: object) -> bool:
    return isinstance(reply, rex.ResponseError) and str(reply).startswith("WRONGTYPE")


def check_deletion(replies: Sequence[Any], unlinks: int) -> None:
    """Raise the first error of a deletion's replies (its ``unlinks`` UNLINKs first). An SREM
    refused with WRONGTYPE is no error: that key is not an index set (something else wrote it),
    so there is no index to keep in step."""
    check_replies(replies[:unlinks])
    check_replies(r for r in replies[unlinks:] if not is_wrongtype(r))


_GRANT_HINT = "rerun as a user allowed to delete, or once the ACL allows it"


def _rerun_hint(hint: str | None) -> str:
    rerun = "rerun the same command to finish the job (deleted keys are not found again)"
    return f"{hint}; then {rerun}" if hint else rerun


def deletion_failed(deleted: int, matched: str, exc: RedisOperationError) -> PartialFailure:
    """``matched`` reads e.g. "the 12 keys matched so far" or "the 40 previewed keys"."""
    if isinstance(exc, PermissionDenied):  # the message names the user and the refused command
        return PartialFailure(
            f"deleted {deleted} of {matched}, then the server refused: {exc.message}",
            hint="; ".join(filter(None, (exc.hint, _GRANT_HINT))),
            done=deleted,
        )
    return PartialFailure(
        f"deleted {deleted} of {matched} before the server failed: {exc.message}",
        hint=_rerun_hint(exc.hint),
        done=deleted,
    )


def interrupted(deleted: int, matched: str) -> InvalidationInterrupted:
    return InvalidationInterrupted(
        f"interrupted: deleted {deleted} of {matched}", hint=_rerun_hint(None), done=deleted
    )


def delete_previewed(
    handle: RedisHandle, preview: Invalidation, on_progress: Progress | None = None
) -> Invalidation:
    """Delete exactly the keys a preview (``sweep.run(..., keep_keys=True)``) listed."""
    progress = on_progress or (lambda n: None)
    done: list[TargetResult] = []
    deleted = 0
    try:
        for result in preview.targets:
            before = deleted
            for node_i, node in enumerate(handle.nodes):
                keys = [k for i, k in result.keys if i == node_i]
                for start in range(0, len(keys), KEY_BATCH):
                    chunk = keys[start : start + KEY_BATCH]
                    unlinks = unlink_commands(chunk, handle.is_cluster)
                    here, elsewhere = removals_on(
                        handle, index_removals(chunk, result.target.entities), node_i
                    )
                    with handle.translated(node):
                        replies = fetch(node, (), tail=unlinks + srem_commands(here), check=False).tail
                        deleted += unlinked(replies, len(unlinks))
                        check_deletion(replies, len(unlinks))
                    srem_elsewhere(handle, elsewhere)
                    progress(len(chunk))
            done.append(
                TargetResult(
                    result.planned,
                    result.examined,
                    result.matched,
                    deleted - before,
                    result.memory_bytes,
                    result.regen_cost_usd,
                )
            )
    except KeyboardInterrupt:
        raise interrupted(deleted, f"the {preview.matched} previewed keys") from None
    except RedisOperationError as exc:
        raise deletion_failed(deleted, f"the {preview.matched} previewed keys", exc) from None
    return Invalidation(False, tuple(done), preview.sample_keys)
