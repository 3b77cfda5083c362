"""``llmcache snapshot FILE``: fetch the server's RDB snapshot (one file per cluster primary)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.options import JsonOpt, UrlOpt
from llmcache_cli.cli.output import emit_json, note, stdout_console
from llmcache_cli.cli.render.units import human_bytes
from llmcache_cli.errors import UsageError

HELP = """Fetch an RDB snapshot of the server over the replication protocol (what
'redis-cli --rdb' does): the server forks to write it and keeps serving meanwhile. The file then
feeds 'large-keys', 'ttl' and 'stats --full' with --rdb FILE, which send no command at all.

On a Redis Cluster FILE is a folder: one file per primary (host-port.rdb), which --rdb FOLDER
reads as one keyspace. Managed services that refuse SYNC are named with a pointer to their
backup export.

Examples:

  llmcache snapshot dump.rdb && llmcache large-keys --rdb dump.rdb

  llmcache snapshot --url redis://cluster-node:7000 backups/ && llmcache ttl --rdb backups/
"""

FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="Where to write (a folder for a cluster).")]


def snapshot(ctx: typer.Context, file: FileArg, json_output: JsonOpt = False, url: UrlOpt = None) -> None:
    from llmcache_cli.rdb.fetch import fetch

    with app_context(ctx, url).connect() as handle:
        targets = _targets(file, [node.name for node in handle.nodes], handle.is_cluster)
        done = []
        for node, path in zip(handle.nodes, targets, strict=True):
            with handle.translated(node), _progress(f"Snapshot of {node.name}") as advance:
                done.append(fetch(node, path, advance))
    if json_output:
        emit_json(
            {
                "files": [
                    {"node": f.node, "path": str(f.path), "bytes": f.bytes, "seconds": round(f.seconds, 3)}
                    for f in done
                ]
            }
        )
        return
    console = stdout_console()
    for f in done:
        console.print(f"{f.node}: {human_bytes(f.bytes)} in {f.seconds:.1f} s -> {f.path}", highlight=False)


def _targets(file: Path, names: list[str], cluster: bool) -> list[Path]:
    if cluster or file.is_dir():
        if file.exists() and not file.is_dir():
            raise UsageError(f"{file} is a file: a cluster's snapshots go in a folder, one file per primary")
        file.mkdir(parents=True, exist_ok=True)
        return [file / (name.replace(":", "-").replace("/", "_") + ".rdb") for name in names]
    if not file.parent.is_dir():
        raise UsageError(f"{file}: the folder {file.parent} does not exist")
    return [file]


class _progress:
    """A byte bar on stderr while a snapshot arrives (only on a terminal)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=None)
        return lambda done, total: self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
        if exc[0] is None:
            return
        if isinstance(exc[1], KeyboardInterrupt):
            note("llmcache: interrupted: no snapshot file was written for this node")


def register(app: typer.Typer) -> None:
    app.command("snapshot", help=HELP)(snapshot)
