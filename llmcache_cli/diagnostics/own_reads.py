"""The tool's own key lookups, kept out of the keyspace hit rate it reports.

Redis counts every key read (``PTTL``, ``TYPE``, ``HGETALL``, ``GET``...; not ``MEMORY USAGE``)
in ``INFO`` ``keyspace_hits`` / ``keyspace_misses``, whoever made it. ``stats`` reads a PTTL per
key it measures, so without care each run would raise the next run's hit rate (and so would
``ttl``, ``large-keys`` and ``get``). Every such read is counted on the handle
(``RedisHandle.count_lookups``); when the command is done they are added to a small state file,
``$XDG_STATE_HOME/llmcache/own-reads.json`` (``~/.local/state/...``), per server process:

    {"<run_id>": {"hits": H, "misses": M, "seen": S, "at": UNIX_TIME}}

``run_id`` comes from ``INFO server`` (a restarted server starts afresh); ``seen`` is the node's
hits + misses when last written: fewer now means ``CONFIG RESETSTAT`` ran, and the stored figures
no longer apply. ``stats`` subtracts each node's stored figures from that node's INFO figures.

Why a local file and not a key in Redis: nothing is written to the server (a read-only ACL user
works, the keyspace the tool reports does not change because it looked), at the cost of
covering only the lookups made from this machine and user.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcache_cli.client import RedisHandle

FORGET_AFTER_SECONDS = 30 * 86_400  # a server run not looked at for 30 days is dropped


@dataclass(frozen=True)
class Lookups:
    hits: int = 0
    misses: int = 0


def pttl_lookups(replies: Sequence[Any]) -> tuple[int, int]:
    """(hits, misses) of a run of PTTL (or TYPE) replies: -2 or "none" is a miss."""
    misses = sum(1 for r in replies if r == -2 or r == b"none" or r == "none")
    return len(replies) - misses, misses


def state_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "llmcache" / "own-reads.json"


@contextlib.contextmanager
def _locked_state() -> Iterator[dict[str, Any]]:
    """The state, read and written back under an exclusive lock (several processes may run)."""
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(state, dict):
                state = {}
        except (OSError, ValueError):
            state = {}
        yield state
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        temporary.replace(path)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def stored(
    run_ids: Sequence[str], seen: Sequence[int], pending: Mapping[int, Sequence[int]]
) -> list[Lookups]:
    """What to take off each node's INFO figures: the lookups stored for its ``run_id`` (unless
    its hits + misses ``seen`` now are fewer than when they were stored), plus ``pending``, the
    lookups of this process not stored yet (by node index). Unreadable state counts as none."""
    try:
        with _locked_state() as state:
            for run_id, now in zip(run_ids, seen, strict=True):
                row = state.get(run_id)
                if isinstance(row, dict) and _int(row.get("seen")) > now:
                    del state[run_id]  # CONFIG RESETSTAT since
            table = dict(state)
    except OSError:
        table = {}
    out = []
    for i, run_id in enumerate(run_ids):
        row = table.get(run_id)
        row = row if isinstance(row, dict) else {}
        mine = pending.get(i, (0, 0))
        out.append(Lookups(_int(row.get("hits")) + mine[0], _int(row.get("misses")) + mine[1]))
    return out


def record(handle: RedisHandle) -> bool:
    """Add this handle's counted lookups to the stored ones, and forget them on the handle.
    False (nothing stored) when the server cannot say which run it is or the state file cannot
    be written: the command's own result never depends on it."""
    pending = {i: row for i, row in handle.lookups.items() if row[0] or row[1]}
    if not pending:
        return True
    try:
        facts = []
        for i in sorted(pending):
            info = handle.nodes[i].client.info()  # server and stats sections: no key lookup
            run_id = str(info.get("run_id", ""))
            seen = _int(info.get("keyspace_hits")) + _int(info.get("keyspace_misses"))
            if run_id:
                facts.append((i, run_id, seen))
        now = time.time()
        with _locked_state() as state:
            for i, run_id, seen in facts:
                row = state.get(run_id)
                row = row if isinstance(row, dict) else {}
                state[run_id] = {
                    "hits": _int(row.get("hits")) + pending[i][0],
                    "misses": _int(row.get("misses")) + pending[i][1],
                    "seen": seen,
                    "at": now,
                }
            old = [
                r
                for r, row in state.items()
                if not isinstance(row, dict) or now - _int(row.get("at")) > FORGET_AFTER_SECONDS
            ]
            for run_id in old:
                del state[run_id]
    except Exception:  # bookkeeping must never fail the command
        return False
    for i in pending:
        handle.lookups.pop(i, None)
    return True
