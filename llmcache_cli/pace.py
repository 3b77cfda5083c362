"""Paced scans (``--pace PCT``): keep the server CPU a whole-keyspace scan costs at or under PCT
percent of one core, by sleeping between batches.

A ``Pacer`` watches one node: ``INFO cpu`` (used_cpu_user + used_cpu_sys, the server's own CPU
seconds) when the scan starts and then before each SCAN page is sent, on a connection of its
own. If the server has used more than PCT% of the wall time since the start, the scan sleeps
until the share is back at PCT before it sends the page. All the server's CPU in that window is
counted as the scan's (other clients' load makes the pacing stricter, never looser). The
achieved share is the server CPU over the wall time of the whole scan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llmcache_cli.errors import UsageError

MIN_PCT, MAX_PCT = 1.0, 100.0
_MIN_INTERVAL = 0.002  # seconds between two INFO cpu reads (about one per SCAN page)


def check_pct(value: float | None) -> float | None:
    if value is not None and not (MIN_PCT <= value <= MAX_PCT):
        raise UsageError(f"--pace must be a percentage of one server core between 1 and 100, got {value:g}")
    return value


@dataclass(frozen=True)
class Pace:
    """What pacing did: the target, the server CPU share achieved (the busiest node's), the time
    spent sleeping (summed over nodes)."""

    target_pct: float
    achieved_pct: float | None
    slept_seconds: float
    server_cpu_seconds: float
    wall_seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "target_pct": self.target_pct,
            "server_cpu_pct": self.achieved_pct,
            "slept_seconds": round(self.slept_seconds, 3),
            "server_cpu_seconds": round(self.server_cpu_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
        }


def server_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info.get("used_cpu_user", 0.0)) + float(info.get("used_cpu_sys", 0.0))


class Pacer:
    """The pace of one node's scan; call it (an ``on_page`` hook) before each page is sent."""

    def __init__(
        self,
        client: Any,
        pct: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.share, self.sleep, self.clock = client, pct / 100.0, sleep, clock
        self.started = clock()
        self.cpu0 = server_cpu(client)
        self.cpu = self.cpu0
        self.last_read = self.started
        self.slept = 0.0
        self.ended: float | None = None

    def __call__(self, _page: int) -> None:
        now = self.clock()
        if now - self.last_read < _MIN_INTERVAL:
            return
        self.cpu = server_cpu(self.client)
        self.last_read = now
        used = self.cpu - self.cpu0
        due = self.started + used / self.share  # when that much CPU is PCT% of the wall time
        if due > now:
            self.sleep(due - now)
            self.slept += due - now

    def finish(self) -> None:
        if self.ended is None:
            self.cpu = server_cpu(self.client)
            self.ended = self.clock()

    @property
    def used(self) -> float:
        return self.cpu - self.cpu0

    @property
    def wall(self) -> float:
        return (self.ended or self.clock()) - self.started


class Pacers:
    """One pacer per node of a scan (nodes are scanned in their own threads)."""

    def __init__(self, pct: float | None) -> None:
        self.pct = pct
        self._pacers: dict[int, Pacer] = {}
        self._lock = threading.Lock()

    def hook(self, index: int, client: Any) -> Callable[[int], None] | None:
        """The ``on_page`` hook for node ``index`` (None when not pacing)."""
        if self.pct is None:
            return None
        pacer = Pacer(client, self.pct)
        with self._lock:
            self._pacers[index] = pacer
        return pacer

    def result(self) -> Pace | None:
        if self.pct is None:
            return None
        pacers: Sequence[Pacer] = list(self._pacers.values())
        for pacer in pacers:
            try:
                pacer.finish()
            except Exception:
                pacer.ended = time.monotonic()
        shares = [100.0 * p.used / p.wall for p in pacers if p.wall > 0]
        return Pace(
            target_pct=self.pct,
            achieved_pct=round(max(shares), 2) if shares else None,
            slept_seconds=sum(p.slept for p in pacers),
            server_cpu_seconds=sum(p.used for p in pacers),
            wall_seconds=max((p.wall for p in pacers), default=0.0),
        )


def chain(*hooks: Callable[[int], None] | None) -> Callable[[int], None] | None:
    """One ``on_page`` hook calling each of ``hooks`` that is not None."""
    present = [h for h in hooks if h is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def both(n: int) -> None:
        for hook in present:
            hook(n)

    return both
