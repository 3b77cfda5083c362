"""The options that point a report at RDB snapshots instead of a server: --rdb, --db, --now,
--allocator; reading the snapshots with a progress bar; and the output of a report, live or from
a snapshot (with the line that says which snapshot it came from)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from llmcache_cli.cli.commands._render import Advance, finish, with_progress
from llmcache_cli.cli.output import emit_json, note
from llmcache_cli.errors import UsageError

if TYPE_CHECKING:
    from llmcache_cli.diagnostics.snapshot_reports import SnapshotSource, SnapshotSummary
    from llmcache_cli.pace import Pace

R = TypeVar("R")

RdbOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rdb",
        metavar="FILE",
        show_default=False,
        help="Report from this RDB snapshot, not the server (repeatable; a folder: its .rdb files, "
        "one per cluster primary). No command is sent to any server.",
    ),
]
DbOpt = Annotated[
    int, typer.Option("--db", metavar="N", min=0, help="With --rdb: the database to report on.")
]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="TIME",
        show_default=False,
        help="With --rdb: judge TTLs as of this time (unix seconds or ISO 8601) "
        "[default: when the snapshot was taken].",
    ),
]
AllocatorOpt = Annotated[
    str,
    typer.Option(
        "--allocator",
        metavar="NAME",
        help="With --rdb: the server's allocator, for memory figures: jemalloc (standard builds) "
        "or libc (servers built with MALLOC=libc).",
    ),
]


def parse_now(value: str | None) -> int | None:
    """--now as unix milliseconds."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise UsageError(
                f"--now {value!r} is neither unix seconds nor an ISO 8601 time",
                hint="e.g. --now 1767225600 or --now 2026-01-01T00:00:00+00:00",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = moment.timestamp()
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"--now {value!r} is not a time")
    return int(seconds * 1000)


def snapshot_source(rdb: list[str], db: int, now: str | None, allocator: str) -> SnapshotSource:
    from llmcache_cli.diagnostics.snapshot_reports import SnapshotSource
    from llmcache_cli.rdb import ALLOCATORS, snapshot_files

    if allocator not in ALLOCATORS:
        raise UsageError(f"--allocator must be one of {', '.join(ALLOCATORS)}, got {allocator!r}")
    paths = tuple(snapshot_files(rdb))
    return SnapshotSource(paths, db, parse_now(now), allocator, cluster=len(paths) > 1)


def read_snapshot(
    rdb: list[str],
    db: int,
    now: str | None,
    allocator: str,
    read: Callable[[SnapshotSource, Advance], tuple[R, SnapshotSummary]],
) -> tuple[R, SnapshotSummary]:
    """``read(source, advance)`` over the --rdb files, with a progress bar by bytes read."""
    from llmcache_cli.rdb import total_bytes

    source = snapshot_source(rdb, db, now, allocator)
    return with_progress("Reading snapshot", total_bytes(source.paths), lambda advance: read(source, advance))


def show_report(
    report: Any,
    json_output: bool,
    as_json: Callable[[Any], dict[str, Any]],
    render: Callable[[Any], None],
    summary: SnapshotSummary | None = None,
) -> None:
    """A report (with ``partial`` and ``pace``) as JSON, with the snapshot's summary when it came
    from one, or rendered: after the line naming the snapshot, or before the pace achieved.
    Then ``finish``."""
    if json_output:
        emit_json({**as_json(report), **(summary.as_json() if summary is not None else {})})
    else:
        if summary is not None:
            note(describe(summary))
        render(report)
        line = pace_line(report.pace)
        if line:
            note(line)
    finish(report.partial)


def check_live_only(rdb: list[str] | None, db: int, now: str | None, allocator: str, url: str | None) -> None:
    """--db, --now and --allocator belong to --rdb; --url contradicts it."""
    if rdb:
        if url:
            raise UsageError("--rdb reads a snapshot, --url a server: use one")
        return
    if db or now is not None or allocator != "jemalloc":
        raise UsageError("--db, --now and --allocator only apply with --rdb FILE")


def describe(summary: SnapshotSummary) -> str:
    files = summary.files
    keys = sum(sum(info.keys.values()) for info in files)
    names = files[0].path if len(files) == 1 else f"{len(files)} files"
    skipped = sum(info.module_values for info in files)
    extra = f", {skipped:,} module values skipped" if skipped else ""
    versions = sorted({info.server_version or "?" for info in files})
    return (
        f"From snapshot {names} (server {', '.join(versions)}, {keys:,} keys in all databases{extra}; "
        f"db {summary.db})"
    )


def _check_pace(value: float | None) -> float | None:
    from llmcache_cli.pace import check_pct

    return check_pct(value)


PaceOpt = Annotated[
    float | None,
    typer.Option(
        "--pace",
        metavar="PCT",
        callback=_check_pace,
        show_default=False,
        help="Live scan: keep the server CPU it costs at or under PCT% of one core (INFO cpu, "
        "sleeping between batches); the share achieved is reported.",
    ),
]


InServerOpt = Annotated[
    bool,
    typer.Option(
        "--in-server",
        help="Live scan: read MEMORY USAGE and PTTL inside one read-only script per SCAN page "
        "(EVAL_RO) instead of two pipelined commands per key. It sends about 300 bytes per page "
        "instead of about 100 per key, for a server across a slow link; on a nearby server it "
        "costs more server CPU than the default. Where scripting is refused, the commands are "
        "pipelined; --json names the method.",
    ),
]


def check_pace(pace: float | None, rdb: list[str] | None, in_server: bool = False) -> None:
    if pace is not None and rdb:
        raise UsageError("--pace paces a live scan: reading a snapshot costs the server nothing")
    if in_server and rdb:
        raise UsageError("--in-server is for a live scan: a snapshot is read here, not on a server")


def pace_line(pace: Pace | None) -> str | None:
    if pace is None:
        return None
    share = "n/a" if pace.achieved_pct is None else f"{pace.achieved_pct:.1f}%"
    return (
        f"Paced at {pace.target_pct:g}% of a server core: the scan used {share} "
        f"({pace.server_cpu_seconds:.2f} s of server CPU in {pace.wall_seconds:.1f} s, "
        f"{pace.slept_seconds:.1f} s asleep)"
    )
