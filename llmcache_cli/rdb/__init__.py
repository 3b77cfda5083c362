"""RDB snapshots: read every key of a ``dump.rdb`` (type, expiry, estimated memory) without a
server, and fetch one from a server over the replication protocol (``fetch``).

``snapshot_files`` turns the ``--rdb`` arguments (files, or a folder of a cluster's files) into
a list of paths; ``walk`` parses them in turn and yields ``KeyBatch``es, filling in one
``SnapshotInfo`` per file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from llmcache_cli.errors import SnapshotError, UsageError
from llmcache_cli.rdb.memory import ALLOCATORS, JEMALLOC
from llmcache_cli.rdb.parser import NO_EXPIRY, KeyBatch, Parser, Progress, SnapshotInfo

__all__ = [
    "ALLOCATORS",
    "NO_EXPIRY",
    "KeyBatch",
    "SnapshotError",
    "SnapshotInfo",
    "snapshot_files",
    "total_bytes",
    "walk",
]


def snapshot_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files named, a folder standing for the ``*.rdb`` files in it (sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix == ".rdb" and p.is_file())
            if not found:
                raise UsageError(f"--rdb {path}: the folder holds no .rdb file")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise UsageError(f"--rdb {path}: no such file or folder")
    if len(set(out)) != len(out):
        raise UsageError("--rdb names the same file twice")
    return out


def total_bytes(paths: Sequence[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def walk(
    paths: Sequence[Path],
    infos: list[SnapshotInfo],
    *,
    db: int | None = 0,
    allocator: str = JEMALLOC,
    on_progress: Progress | None = None,
    capture: Callable[[bytes], bool] | None = None,
    cluster: bool = False,
) -> Iterator[KeyBatch]:
    """The keys of database ``db`` (None: all) of every file; ``infos`` gets each file's
    ``SnapshotInfo`` as it is opened (complete once its keys are through). The hashes whose
    key ``capture`` accepts are read whole, into ``KeyBatch.hashes``. ``cluster``: the files
    come from a Redis Cluster's primaries (Redis 7 counts 16 more bytes a key there)."""
    for path in paths:
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot read the snapshot: {exc.strerror or exc}") from None
        with stream:
            parser = Parser(
                stream,
                str(path),
                db=db,
                allocator=allocator,
                on_progress=on_progress,
                capture=capture,
                cluster=cluster,
            )
            infos.append(parser.info)
            yield from parser.batches()
