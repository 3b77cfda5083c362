"""Find a target's keys (SCAN, or the per-symbol index) and UNLINK them in pipelined batches.

Work is done node by node (``handle.nodes``): keys found on a node are examined and deleted
through that node's client, and in a cluster ``UNLINK`` is grouped by hash slot. Each batch of
confirmed keys costs one round trip that carries ``MEMORY USAGE`` and ``GET`` (for the preview
figures: memory, and the $ to regenerate from the envelope's meta), the ``UNLINK`` when deleting,
and the next ``SCAN`` call, so the client never waits for a round trip of its own. SCAN is
called here rather than through ``scan.scan_keys`` because the progress bar needs every page
(including empty ones) and deletion needs the next SCAN in the same pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.exceptions as rex
from redis.client import Pipeline

from llmcache_cli.client import Node, RedisHandle
from llmcache_cli.envelope import decode_entry
from llmcache_cli.errors import PartialFailure, RedisOperationError
from llmcache_cli.invalidation.deletion import (
    KEY_BATCH,
    Progress,
    by_node,
    check_replies,
    index_keys_on,
    interrupted,
    server_failed,
    srem_elsewhere,
    unlink_groups,
)
from llmcache_cli.invalidation.results import SAMPLE_KEYS, Invalidation, Plan, PlannedTarget, TargetResult
from llmcache_cli.invalidation.selection import Target

SCAN_COUNT = 1000


def plan(handle: RedisHandle, targets: Sequence[Target], use_index: bool = True) -> Plan:
    """Decide, per target, whether its per-symbol index can be used, and how much work there is.

    The index is used when it exists as a set and ``use_index`` is on. In a cluster it is read
    on the primary that holds its slot (the symbol's hash tag) and each member is handled on
    the primary of its own slot. Everything else is scanned, on every primary.
    """
    sizes: list[int] = []
    for node in handle.nodes:
        with handle.translated(node):
            sizes.append(int(node.client.dbsize()))
    present = _index_sizes(handle, [k for t in targets for k in t.index_keys])
    planned: list[PlannedTarget] = []
    work = 0
    for target in targets:
        found = [k for k in target.index_keys if k in present]
        if found and use_index:
            planned.append(PlannedTarget(target, "index", True))
            work += sum(present[k] for k in found)
        else:
            planned.append(PlannedTarget(target, "scan", bool(found)))
            work += sum(sizes) * len(target.patterns)
    return Plan(tuple(planned), work, tuple(sizes))


def _index_sizes(handle: RedisHandle, index_keys: Sequence[str]) -> dict[str, int]:
    """SCARD of each index key that exists as a set (TYPE and SCARD, one round trip per node)."""
    present: dict[str, int] = {}
    for node_i, keys in by_node(handle, index_keys).items():
        node = handle.nodes[node_i]
        with handle.translated(node):
            pipe = node.client.pipeline(transaction=False)
            for key in keys:
                pipe.type(key)
                pipe.scard(key)
            replies = pipe.execute(raise_on_error=False)
        for i, key in enumerate(keys):
            if replies[2 * i] in (b"set", "set"):
                present[key] = int(replies[2 * i + 1])
    return present


def _is_wrongtype(reply: object) -> bool:
    return isinstance(reply, rex.ResponseError) and str(reply).startswith("WRONGTYPE")


@dataclass
class _Tally:
    """Running figures of one target (private, mutable while the run lasts)."""

    planned: PlannedTarget
    examined: int = 0
    matched: int = 0
    deleted: int = 0
    memory_bytes: int = 0
    regen_cost_usd: float = 0.0
    keys: list[tuple[int, bytes]] = field(default_factory=list)
    seen: set[tuple[int, bytes]] = field(default_factory=set)

    def frozen(self) -> TargetResult:
        return TargetResult(
            self.planned,
            self.examined,
            self.matched,
            self.deleted,
            self.memory_bytes,
            self.regen_cost_usd,
            tuple(self.keys),
        )


@dataclass(frozen=True)
class _Queued:
    """What ``_queue`` put in a pipeline: ``width`` replies, of which ``unlinks`` UNLINKs
    after the per-key ones, and the index sets on other nodes still to update for ``keys``."""

    width: int
    unlinks: int
    elsewhere: Sequence[str] = ()
    keys: Sequence[bytes] = ()


class _Run:
    def __init__(
        self, handle: RedisHandle, delete: bool, count: int, on_progress: Progress | None, keep_keys: bool
    ) -> None:
        self.handle = handle
        self.delete = delete
        self.count = count
        self.progress: Progress = on_progress or (lambda n: None)
        self.keep_keys = keep_keys
        self.tallies: list[_Tally] = []
        self.samples: list[str] = []

    def result(self, complete: bool = True) -> Invalidation:
        targets = tuple(t.frozen() for t in self.tallies)
        return Invalidation(not self.delete, targets, tuple(self.samples), complete)

    def target(self, planned: PlannedTarget, node_sizes: Sequence[int]) -> None:
        tally = _Tally(planned)
        self.tallies.append(tally)
        if planned.method == "index":
            self._by_index(tally)
            return
        for i, node in enumerate(self.handle.nodes):
            for pattern in planned.target.patterns:
                with self.handle.translated(node):
                    self._scan(i, node, pattern, tally, node_sizes[i] if i < len(node_sizes) else 0)

    def _queue(self, pipe: Pipeline, node_i: int, keys: Sequence[bytes], tally: _Tally) -> _Queued:
        """Queue the per-key step for confirmed keys found on node ``node_i``."""
        for key in keys:
            pipe.memory_usage(key)
            pipe.get(key)
        if not (self.delete and keys):
            return _Queued(2 * len(keys), 0)
        groups = unlink_groups(keys, self.handle.is_cluster)
        for group in groups:
            pipe.unlink(*group)
        index_keys = tally.planned.target.index_keys if self._srem(tally) else ()
        here, elsewhere = index_keys_on(self.handle, index_keys, node_i)
        for index_key in here:  # keep the symbol's index in step with the deletions
            pipe.srem(index_key, *keys)
        return _Queued(2 * len(keys) + len(groups) + len(here), len(groups), elsewhere, keys)

    def _absorb(
        self, node_i: int, keys: Sequence[bytes], replies: Sequence[Any], queued: _Queued, tally: _Tally
    ) -> None:
        rest = replies[2 * len(keys) :]
        # UNLINKs count first: if another reply is an error they still ran on the server.
        tally.deleted += sum(r for r in rest[: queued.unlinks] if isinstance(r, int))
        for i, key in enumerate(keys):
            memory, raw = replies[2 * i], replies[2 * i + 1]
            check_replies([memory])
            if memory is None:
                continue  # vanished (expired or deleted) since it was listed: skipped, not an error
            tally.matched += 1
            tally.memory_bytes += int(memory)
            if isinstance(raw, Exception):
                if not _is_wrongtype(raw):  # a hash, list, ... has no envelope: costs nothing
                    raise raw
            elif raw is not None:
                tally.regen_cost_usd += decode_entry(raw).cost_usd
            if self.keep_keys:
                tally.keys.append((node_i, key))
            if len(self.samples) < SAMPLE_KEYS:
                self.samples.append(key.decode("utf-8", "backslashreplace"))
        check_replies(rest)
        srem_elsewhere(self.handle, queued.elsewhere, queued.keys)

    def _srem(self, tally: _Tally) -> bool:
        return self.delete and tally.planned.index_present

    def _fresh(self, node_i: int, keys: Iterable[bytes], tally: _Tally) -> list[bytes]:
        out = []
        target = tally.planned.target
        for key in dict.fromkeys(keys):
            if target.accepts(key) and (node_i, key) not in tally.seen:
                if not self.delete:  # a deleted key cannot be counted twice; a previewed one can
                    tally.seen.add((node_i, key))
                out.append(key)
        return out

    def _scan(self, node_i: int, node: Node, pattern: str, tally: _Tally, budget: int) -> None:
        cursor, started = 0, False
        pending: list[bytes] = []
        while True:
            scanning = not started or cursor != 0
            if not scanning and not pending:
                break
            pipe = node.client.pipeline(transaction=False)
            queued = self._queue(pipe, node_i, pending, tally)
            width = queued.width
            if scanning:
                pipe.scan(cursor, match=pattern, count=self.count)
            replies = pipe.execute(raise_on_error=False)
            self._absorb(node_i, pending, replies[:width], queued, tally)
            pending = []
            if not scanning:
                break
            started = True
            check_replies(replies[width:])
            cursor, keys = replies[-1]
            tally.examined += len(keys)
            pending = self._fresh(node_i, keys, tally)
            step = min(self.count, budget) if cursor != 0 else budget
            budget -= step
            self.progress(step)

    def _by_index(self, tally: _Tally) -> None:
        members: set[bytes] = set()
        for node_i, index_keys in by_node(self.handle, tally.planned.target.index_keys).items():
            node = self.handle.nodes[node_i]
            with self.handle.translated(node):
                pipe = node.client.pipeline(transaction=False)
                for index_key in index_keys:
                    pipe.smembers(index_key)
                for reply in pipe.execute(raise_on_error=False):
                    if not _is_wrongtype(reply):  # an index that is not a set is no index
                        check_replies([reply])
                        members.update(reply)
        tally.examined = len(members)
        # Never trusted alone: every member must pass the exact test and still exist. In a
        # cluster each member is examined and deleted on the primary of its own slot.
        for node_i, keys in sorted(by_node(self.handle, sorted(members)).items()):
            node = self.handle.nodes[node_i]
            confirmed = self._fresh(node_i, keys, tally)
            for start in range(0, len(confirmed), KEY_BATCH):
                chunk = confirmed[start : start + KEY_BATCH]
                with self.handle.translated(node):
                    pipe = node.client.pipeline(transaction=False)
                    queued = self._queue(pipe, node_i, chunk, tally)
                    self._absorb(node_i, chunk, pipe.execute(raise_on_error=False), queued, tally)
        self.progress(len(members))


def run(
    handle: RedisHandle,
    planned: Plan,
    *,
    delete: bool,
    count: int = SCAN_COUNT,
    on_progress: Progress | None = None,
    keep_keys: bool = False,
) -> Invalidation:
    """Preview (``delete=False``) or delete every key of the plan's targets.

    A server failure during a deletion raises ``PartialFailure`` whose ``done`` is the number of
    keys already deleted; rerunning finishes the job (deleted keys are simply not found again).
    Ctrl-C during a preview returns the figures gathered so far (``complete`` False).
    """
    work = _Run(handle, delete, count, on_progress, keep_keys)
    try:
        for target in planned.targets:
            work.target(target, planned.node_keys)
    except KeyboardInterrupt:
        if not delete:
            return work.result(complete=False)
        so_far = work.result(complete=False)
        raise interrupted(so_far.deleted, f"{so_far.matched} matched so far") from None
    except PartialFailure:
        raise
    except RedisOperationError as exc:
        if not delete:
            raise
        so_far = work.result(complete=False)
        raise server_failed(so_far.deleted, f"{so_far.matched} matched so far", exc) from None
    return work.result()
