"""Find a target's keys (SCAN, or the per-symbol index) and UNLINK them in pipelined batches.

Work is done node by node (``handle.nodes``), in turn, through the shared batched scan
(``llmcache_cli.scan``): keys found on a node are confirmed by the target's exact test before
anything is sent for them, then examined and deleted on that node's connection, and in a cluster
``UNLINK`` is grouped by hash slot. Each SCAN page costs one round trip that carries the next
``SCAN``, ``MEMORY USAGE`` and ``GET`` of the page's confirmed keys (for the preview figures:
memory, and the $ to regenerate from the envelope's meta), and when deleting their ``UNLINK``
and the ``SREM`` that keeps the symbol's index in step. A deletion counts each batch with nothing
in flight, so a run that stops half-way says exactly how many keys are gone. What a deletion
sends is ``deletion``'s rule, shared with the library: every deleted key also leaves its
symbol's index set, whatever selected it.

``pace`` (``--pace PCT``) paces the SCAN walks only: each walk of a node has a ``Pacer`` that
watches that node's ``INFO cpu`` and sleeps before a page is sent while the walk's share of the
server's CPU is over PCT. Walks run one after another, so the share achieved is their server CPU
over their wall time, summed. The index path reads a few known keys and is never paced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from llmcache_cli.client import Node, RedisHandle
from llmcache_cli.envelope import decode_entry
from llmcache_cli.errors import PartialFailure, RedisOperationError
from llmcache_cli.invalidation.deletion import (
    KEY_BATCH,
    Command,
    Progress,
    by_node,
    check_deletion,
    check_replies,
    deletion_failed,
    index_removals,
    interrupted,
    is_wrongtype,
    removals_on,
    srem_commands,
    srem_elsewhere,
    unlink_commands,
    unlinked,
)
from llmcache_cli.invalidation.outcome import SAMPLE_KEYS, Invalidation, Plan, PlannedTarget, TargetResult
from llmcache_cli.invalidation.selection import Target
from llmcache_cli.keys import key_bytes, key_text
from llmcache_cli.pace import Pace, Pacer, chain
from llmcache_cli.scan import KEY, SCAN_COUNT, Batch, KeyCommands, fetch, node_sizes, scan_batches

__all__ = ["SCAN_COUNT", "plan", "run"]

MEMORY_AND_GET = KeyCommands(("MEMORY", "USAGE", KEY), ("GET", KEY))
SMEMBERS = KeyCommands(("SMEMBERS", KEY))
_TYPE_AND_SCARD = KeyCommands(("TYPE", KEY), ("SCARD", KEY))


def plan(handle: RedisHandle, targets: Sequence[Target], use_index: bool = True) -> Plan:
    """Decide, per target, whether its per-symbol index can be used, and how much work there is.

    The index is used when it exists as a set and ``use_index`` is on. In a cluster it is read
    on the primary that holds its slot (the symbol's hash tag) and each member is handled on
    the primary of its own slot. Everything else is scanned, on every primary.
    """
    sizes = node_sizes(handle)
    present = _index_sizes(handle, [k for t in targets for k in t.index_keys])
    planned: list[PlannedTarget] = []
    work = 0
    for target in targets:
        found = [k for k in target.index_keys if k in present]
        if found and use_index:
            planned.append(PlannedTarget(target, "index"))
            work += sum(present[k] for k in found)
        else:
            planned.append(PlannedTarget(target, "scan"))
            work += sum(sizes) * len(target.patterns)
    return Plan(tuple(planned), work, tuple(sizes))


def _index_sizes(handle: RedisHandle, index_keys: Sequence[str]) -> dict[str, int]:
    """SCARD of each index key that exists as a set (TYPE and SCARD, one round trip per node)."""
    present: dict[str, int] = {}
    for node_i, keys in by_node(handle, index_keys).items():
        node = handle.nodes[node_i]
        with handle.translated(node):
            replies = fetch(node, [key_bytes(k) for k in keys], _TYPE_AND_SCARD, check=False).replies
        for i, key in enumerate(keys):
            if replies[2 * i] in (b"set", "set") and isinstance(replies[2 * i + 1], int):
                present[key] = replies[2 * i + 1]
        gone = sum(1 for t in replies[0::2] if t in (b"none", "none"))
        handle.count_lookups(node_i, 2 * (len(keys) - gone), 2 * gone)  # TYPE and SCARD (own_reads)
    return present


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
    seen: dict[int, set[bytes]] = field(default_factory=dict)  # per node: no tuple per key

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


class _Run:
    def __init__(
        self,
        handle: RedisHandle,
        delete: bool,
        count: int,
        on_progress: Progress | None,
        keep_keys: bool,
        pace: float | None = None,
    ) -> None:
        self.handle = handle
        self.delete = delete
        self.count = count
        self.progress: Progress = on_progress or (lambda n: None)
        self.keep_keys = keep_keys
        self.tallies: list[_Tally] = []
        self.samples: list[str] = []
        self.pace = pace
        self.pacers: list[Pacer] = []  # one per SCAN walk, in turn

    def result(self, complete: bool = True) -> Invalidation:
        targets = tuple(t.frozen() for t in self.tallies)
        return Invalidation(not self.delete, targets, tuple(self.samples), complete, self._paced())

    def _paced(self) -> Pace | None:
        """What pacing did over every walk (None when not pacing or nothing was scanned)."""
        if self.pace is None or not self.pacers:
            return None
        for pacer in self.pacers:
            try:
                pacer.finish()
            except Exception:  # the server went away: the figures up to the last read stand
                pacer.ended = pacer.last_read
        used = sum(p.used for p in self.pacers)
        wall = sum(p.wall for p in self.pacers)
        return Pace(
            target_pct=self.pace,
            achieved_pct=round(100.0 * used / wall, 2) if wall > 0 else None,
            slept_seconds=sum(p.slept for p in self.pacers),
            server_cpu_seconds=used,
            wall_seconds=wall,
        )

    def _pacer(self, node: Node) -> Pacer | None:
        """A pacer for one walk of ``node`` (None when not pacing)."""
        if self.pace is None:
            return None
        pacer = Pacer(node.client, self.pace)
        self.pacers.append(pacer)
        return pacer

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

    def _deletion(
        self, node_i: int, keys: Sequence[bytes], tally: _Tally
    ) -> tuple[list[Command], int, dict[int, dict[str, list[bytes]]]]:
        """What deleting ``keys`` (on node ``node_i``) sends in that node's pipeline, how many of
        those commands are UNLINKs, and the index sets on other nodes to SREM from afterwards."""
        if not (self.delete and keys):
            return [], 0, {}
        unlinks = unlink_commands(keys, self.handle.is_cluster)
        removals = index_removals(keys, tally.planned.target.entities)
        here, elsewhere = removals_on(self.handle, removals, node_i)
        return unlinks + srem_commands(here), len(unlinks), elsewhere

    def _keep(self, node_i: int, tally: _Tally) -> Callable[[bytes], bool]:
        """The exact test; a preview also counts each key once (SCAN may return a key twice; a
        deleted key cannot be found again)."""
        accepts, dedupe = tally.planned.target.accepts, not self.delete
        seen = tally.seen.setdefault(node_i, set())

        def keep(key: bytes) -> bool:
            if not accepts(key):
                return False
            if dedupe:
                if key in seen:
                    return False
                seen.add(key)
            return True

        return keep

    def _absorb(self, node_i: int, batch: Batch, tally: _Tally) -> None:
        """Count one batch, whose tail is ``self._deletion(node_i, batch.keys, tally)`` when
        deleting."""
        _, unlinks, elsewhere = self._deletion(node_i, batch.keys, tally)
        tally.deleted += unlinked(batch.tail, unlinks)  # first: they ran even if another reply failed
        replies = batch.replies
        found = sum(1 for memory in replies[0::2] if memory is not None)
        self.handle.count_lookups(node_i, found, len(batch.keys) - found)  # the GETs (own_reads)
        for i, key in enumerate(batch.keys):
            memory, raw = replies[2 * i], replies[2 * i + 1]
            check_replies([memory])
            if memory is None:
                continue  # vanished (expired or deleted) since it was listed: skipped, not an error
            tally.matched += 1
            tally.memory_bytes += int(memory)
            if isinstance(raw, Exception):
                if not is_wrongtype(raw):  # a hash, list, ... has no envelope: costs nothing
                    raise raw
            elif raw is not None:
                tally.regen_cost_usd += decode_entry(raw).cost_usd
            if self.keep_keys:
                tally.keys.append((node_i, key))
            if len(self.samples) < SAMPLE_KEYS:
                self.samples.append(key_text(key))
        check_deletion(batch.tail, unlinks)
        srem_elsewhere(self.handle, elsewhere)

    def _scan(self, node_i: int, node: Node, pattern: str, tally: _Tally, budget: int) -> None:
        left = [budget]  # the node's DBSIZE, handed out to the progress bar page by page
        pacer = self._pacer(node)

        def on_page(scanned: int) -> None:
            tally.examined += scanned
            step = min(scanned, left[0])
            left[0] -= step
            self.progress(step)  # Ctrl-C here: nothing of this page has been sent

        batches = scan_batches(
            node,
            MEMORY_AND_GET,
            match=pattern,
            count=self.count,
            keep=self._keep(node_i, tally),
            tail=lambda keys: self._deletion(node_i, keys, tally)[0],
            on_page=chain(on_page, pacer),
            # A deletion leaves nothing in flight while it counts a batch, so a run that stops
            # there knows exactly which UNLINKs ran; a preview may overlap its round trips.
            overlap=not self.delete,
            check=False,
        )
        for batch in batches:
            self._absorb(node_i, batch, tally)
        if pacer is not None:
            pacer.finish()  # the walk's wall time ends here, not when the run does
        if left[0]:
            self.progress(left[0])  # keys deleted or expired since DBSIZE: the bar still ends full

    def _by_index(self, tally: _Tally) -> None:
        members: set[bytes] = set()
        for node_i, index_keys in by_node(self.handle, tally.planned.target.index_keys).items():
            node = self.handle.nodes[node_i]
            with self.handle.translated(node):
                batch = fetch(node, [key_bytes(k) for k in index_keys], SMEMBERS, check=False)
                self.handle.count_lookups(node_i, len(index_keys))  # SMEMBERS of sets planned present
                for reply in batch.replies:
                    if not is_wrongtype(reply):  # an index that is not a set is no index
                        check_replies([reply])
                        members.update(reply)
        tally.examined = len(members)
        # Never trusted alone: every member must pass the exact test and still exist. In a
        # cluster each member is examined and deleted on the primary of its own slot.
        for node_i, keys in sorted(by_node(self.handle, sorted(members)).items()):
            node = self.handle.nodes[node_i]
            keep = self._keep(node_i, tally)
            confirmed = [key for key in keys if keep(key)]  # keys: distinct members
            for start in range(0, len(confirmed), KEY_BATCH):
                chunk = confirmed[start : start + KEY_BATCH]
                with self.handle.translated(node):
                    tail = self._deletion(node_i, chunk, tally)[0]
                    batch = fetch(node, chunk, MEMORY_AND_GET, tail, check=False)
                    self._absorb(node_i, batch, tally)
        self.progress(len(members))


def run(
    handle: RedisHandle,
    planned: Plan,
    *,
    delete: bool,
    count: int = SCAN_COUNT,
    on_progress: Progress | None = None,
    keep_keys: bool = False,
    pace: float | None = None,
) -> Invalidation:
    """Preview (``delete=False``) or delete every key of the plan's targets.

    A server failure during a deletion raises ``PartialFailure`` whose ``done`` is the number of
    keys already deleted; rerunning finishes the job (deleted keys are simply not found again).
    Ctrl-C during a preview returns the figures gathered so far (``complete`` False).
    ``pace``: the share of one server core (percent) the SCAN walks keep to (``Invalidation.pace``).
    """
    work = _Run(handle, delete, count, on_progress, keep_keys, pace)
    try:
        for target in planned.targets:
            work.target(target, planned.node_keys)
    except KeyboardInterrupt:
        if not delete:
            return work.result(complete=False)
        so_far = work.result(complete=False)
        raise interrupted(so_far.deleted, f"the {so_far.matched} keys matched so far") from None
    except PartialFailure:
        raise
    except RedisOperationError as exc:
        if not delete:
            raise
        so_far = work.result(complete=False)
        raise deletion_failed(so_far.deleted, f"the {so_far.matched} keys matched so far", exc) from None
    return work.result()
