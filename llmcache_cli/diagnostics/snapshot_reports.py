"""The operator reports from RDB snapshots instead of a live server (``--rdb FILE``).

A snapshot is just another source of per-key records: key, type, expiry, memory (estimated the
way ``MEMORY USAGE`` counts it, see ``llmcache_cli.rdb.memory``). They feed the same tallies
and return the same report dataclasses as the live scans, so the rendering and ``--json`` are
shared. No server is contacted. TTLs are judged as of ``now_ms`` (default: each file's own
``ctime``, when the snapshot was taken); keys already expired then count as ``vanished``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcache_cli.diagnostics.common import (
    KeyFacts,
    NamespaceTally,
    Top,
    display_key,
    namespace_bytes,
    namespace_label,
    ttl_seconds,
)
from llmcache_cli.diagnostics.key_sizes import LargeKey, LargeKeysReport
from llmcache_cli.keys import key_bytes, key_has_symbol, key_text
from llmcache_cli.rdb import NO_EXPIRY, KeyBatch, SnapshotInfo, walk
from llmcache_cli.rdb.memory import JEMALLOC

if TYPE_CHECKING:  # numpy and the market calendar: for ``ttl`` only
    from llmcache_cli.diagnostics.ttl_audit import TTLReport
    from llmcache_cli.ttl_policy import TTLPolicy

Progress = Callable[[int], None]  # bytes read
KeyFilter = Callable[[bytes], bool]


@dataclass(frozen=True)
class SnapshotSource:
    """Which files, which database, which moment, which allocator's size classes."""

    paths: tuple[Path, ...]
    db: int = 0
    now_ms: int | None = None  # None: each file's ctime
    allocator: str = JEMALLOC
    cluster: bool = False  # the files are a cluster's primaries (several files: assumed)


@dataclass(frozen=True)
class SnapshotSummary:
    files: tuple[SnapshotInfo, ...]
    db: int
    now_ms: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "source": "rdb",
            "db": self.db,
            "now_ms": self.now_ms,
            "files": [
                {
                    "path": info.path,
                    "rdb_version": info.rdb_version,
                    "server_version": info.server_version,
                    "ctime": info.ctime_ms // 1000 if info.ctime_ms is not None else None,
                    "bytes": info.bytes,
                    "keys": sum(info.keys.values()),
                    "module_values_skipped": info.module_values,
                    "function_libraries": info.functions,
                    "checksum": info.checksum,
                    "memory_model": f"{info.profile}/{info.allocator}",
                }
                for info in self.files
            ],
        }


class _Walk:
    """The batches of the selected keys, with each key's PTTL as of ``now`` (-1 none, -2
    expired), and the files' infos once read."""

    def __init__(self, source: SnapshotSource, keep: KeyFilter | None, on_progress: Progress | None) -> None:
        self.source, self.keep, self.on_progress = source, keep, on_progress
        self.infos: list[SnapshotInfo] = []
        self.partial = False
        self.capture: KeyFilter | None = None  # hashes to read whole (see ``rdb.walk``)

    def __iter__(self) -> Iterator[tuple[KeyBatch, list[int]]]:
        source, keep = self.source, self.keep
        try:
            for batch in walk(
                source.paths,
                self.infos,
                db=source.db,
                allocator=source.allocator,
                on_progress=self.on_progress,
                capture=self.capture,
                cluster=source.cluster,
            ):
                if keep is not None:
                    batch = _filtered(batch, keep)
                    if not batch.keys:
                        continue
                now = source.now_ms
                if now is None:
                    now = self.infos[-1].ctime_ms or int(time.time() * 1000)
                pttls = [-1 if e == NO_EXPIRY else (e - now if e > now else -2) for e in batch.expires]
                yield batch, pttls
        except KeyboardInterrupt:
            self.partial = True

    def summary(self) -> SnapshotSummary:
        return SnapshotSummary(tuple(self.infos), self.source.db, self.source.now_ms)


def _filtered(batch: KeyBatch, keep: KeyFilter) -> KeyBatch:
    out = KeyBatch(batch.db)
    for key, type_, memory, expire in zip(batch.keys, batch.types, batch.memory, batch.expires, strict=True):
        if keep(key):
            out.keys.append(key)
            out.types.append(type_)
            out.memory.append(memory)
            out.expires.append(expire)
            if key in batch.hashes:
                out.hashes[key] = batch.hashes[key]
    return out


def glob_filter(pattern: str | None) -> KeyFilter | None:
    """SCAN MATCH's glob (``*``, ``?``, ``[...]``) over a snapshot's keys."""
    if pattern is None:
        return None
    raw = key_bytes(pattern)
    return lambda key: fnmatchcase(key, raw)  # type: ignore[type-var]


def large_keys(
    source: SnapshotSource,
    *,
    top: int = 10,
    pattern: str | None = None,
    on_progress: Progress | None = None,
) -> tuple[LargeKeysReport, SnapshotSummary]:
    """``large-keys`` from snapshots: the same report as the live scan."""
    if top < 1:
        raise ValueError("top must be at least 1")
    top_keys = Top(top)  # (bytes, key, type, pttl)
    tally = NamespaceTally()
    vanished = 0
    walker = _Walk(source, glob_filter(pattern), on_progress)
    for batch, pttls in walker:
        memory = batch.memory
        vanished += tally.add_batch(batch.keys, memory, pttls)
        floor = top_keys.floor  # only the keys that can enter the top, found in one pass
        for i in [i for i, size in enumerate(memory) if size >= floor]:
            if pttls[i] != -2:
                top_keys.offer((memory[i], batch.keys[i], batch.types[i], pttls[i]))
    largest = top_keys.largest()
    keys = tuple(
        LargeKey(display_key(key), size, type_, ttl_seconds(pttl), namespace_label(namespace_bytes(key)))
        for size, key, type_, pttl in largest
    )
    report = LargeKeysReport(
        scanned=tally.keys,
        vanished=vanished,
        top=top,
        samples=None,
        pattern=None if pattern is None else key_text(pattern),
        keys=keys,
        namespaces=tally.rows(),
        total_memory_bytes=tally.memory_bytes,
        partial=walker.partial,
    )
    return report, walker.summary()


def inspect_ttls(
    source: SnapshotSource,
    policy: TTLPolicy,
    *,
    stock_entities: Collection[str] = ("stock",),
    cache_namespaces: Collection[str] = (),
    pattern: str | None = None,
    symbol: str | None = None,
    keys: Sequence[str] | None = None,
    limit: int = 20,
    on_progress: Progress | None = None,
) -> tuple[TTLReport, SnapshotSummary]:
    """``ttl`` from snapshots: the same report as the live scan (every key: never a sample)."""
    from llmcache_cli.diagnostics.ttl_audit import _selection, ttl_report
    from llmcache_cli.diagnostics.ttl_tally import TTLTally

    if sum(x is not None for x in (pattern, symbol, keys)) > 1:
        raise ValueError("choose one of pattern, symbol and keys")
    keep = glob_filter(pattern)
    if symbol is not None:
        entities = tuple(stock_entities)
        keep = lambda key: key_has_symbol(key, symbol, entities)  # noqa: E731
    elif keys is not None:
        wanted = frozenset(map(key_bytes, keys))
        keep = wanted.__contains__
    tally = TTLTally(policy, stock_entities, limit, cache_namespaces)
    types: dict[bytes, str] = {}  # the type of each key that may be listed (bounded below)
    walker = _Walk(source, keep, on_progress)
    for batch, pttls in walker:
        tally.add_batch(batch.keys, pttls, batch.memory)
        listed = tally.no_ttl_keys
        if not listed.heap:
            continue
        for key, type_, memory, pttl in zip(batch.keys, batch.types, batch.memory, pttls, strict=True):
            if pttl == -1 and memory >= listed.floor:
                types[key] = type_
        if len(types) > 4 * limit + BATCH_SLACK:
            kept = set(listed.held_keys())
            types = {key: t for key, t in types.items() if key in kept}
    facts = {key: KeyFacts(types.get(key, "none"), -1) for key in tally.no_ttl_keys.held_keys()}
    report = ttl_report(
        tally,
        facts,
        policy=policy.name,
        selection=_selection(pattern, symbol, keys, None),
        exact=not walker.partial,
        partial=walker.partial,
        limit=limit,
    )
    return report, walker.summary()


BATCH_SLACK = 1000
