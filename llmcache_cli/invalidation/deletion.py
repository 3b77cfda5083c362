"""UNLINK in pipelined batches (sent through ``scan.fetch``), and what a deletion that stops
half-way reports.

A deletion interrupted by a server failure or Ctrl-C says how many keys are already gone and
that a rerun finishes the job: deleted keys are simply not found again, so rerunning the same
command is always safe. A deletion the ACL refuses says so instead: rerunning as the same user
would be refused again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from redis.crc import key_slot

from llmcache_cli.client import RedisHandle
from llmcache_cli.errors import PartialFailure, PermissionDenied, RedisOperationError
from llmcache_cli.invalidation.results import Invalidation, InvalidationInterrupted, TargetResult
from llmcache_cli.scan import fetch

KEY_BATCH = 1000
Progress = Callable[[int], None]
K = TypeVar("K", str, bytes)


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


def index_keys_on(
    handle: RedisHandle, index_keys: Sequence[str], node_i: int
) -> tuple[list[str], dict[int, list[str]]]:
    """Split a symbol's index keys into those on node ``node_i`` (their SREM rides in that
    node's pipeline) and the others, by node (a cluster whose entries are not hash-tagged)."""
    elsewhere = by_node(handle, index_keys)
    return elsewhere.pop(node_i, []), elsewhere


def unlink_commands(keys: Sequence[bytes], cluster: bool, index_keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """UNLINK ``keys`` (one per slot in a cluster), then SREM them from the symbol's index sets
    on the same node (``index_keys``), to keep the index in step with the deletions."""
    commands: list[tuple[Any, ...]] = [("UNLINK", *group) for group in unlink_groups(keys, cluster)]
    return commands + [("SREM", index_key, *keys) for index_key in index_keys]


def unlinked(replies: Sequence[Any], index_keys: Sequence[str]) -> int:
    """How many keys the UNLINKs of ``unlink_commands(..., index_keys)`` removed, from its
    replies. They count even if another reply is an error: they ran on the server."""
    return sum(r for r in replies[: len(replies) - len(index_keys)] if isinstance(r, int))


def srem_elsewhere(
    handle: RedisHandle, elsewhere: Mapping[int, Sequence[str]], members: Sequence[bytes]
) -> None:
    """Remove deleted keys from index sets that live on other nodes than the keys did
    (``elsewhere`` as ``index_keys_on`` gives it)."""
    if not members:
        return
    for node_i, keys in elsewhere.items():
        node = handle.nodes[node_i]
        with handle.translated(node):
            check_replies(fetch(node, (), tail=[("SREM", k, *members) for k in keys], check=False).tail)


def check_replies(replies: Iterable[Any]) -> None:
    """Raise the first error reply of a pipeline run with ``raise_on_error=False``."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


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
    """Delete exactly the keys a preview (``engine.run(..., keep_keys=True)``) listed."""
    progress = on_progress or (lambda n: None)
    done: list[TargetResult] = []
    deleted = 0
    try:
        for result in preview.targets:
            before = deleted
            index_keys = result.target.index_keys if result.planned.index_present else ()
            for node_i, node in enumerate(handle.nodes):
                keys = [k for i, k in result.keys if i == node_i]
                here, elsewhere = index_keys_on(handle, index_keys, node_i)
                for start in range(0, len(keys), KEY_BATCH):
                    chunk = keys[start : start + KEY_BATCH]
                    commands = unlink_commands(chunk, handle.is_cluster, here)
                    with handle.translated(node):
                        replies = fetch(node, (), tail=commands, check=False).tail
                        deleted += unlinked(replies, here)
                        check_replies(replies)
                    srem_elsewhere(handle, elsewhere, chunk)
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
