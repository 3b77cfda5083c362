"""What an invalidation found and did: frozen results, one per target and one overall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from llmcache_cli.errors import EXIT_INTERRUPTED, PartialFailure
from llmcache_cli.invalidation.selection import Target
from llmcache_cli.pace import Pace

Method = Literal["scan", "index"]
SAMPLE_KEYS = 10


@dataclass(frozen=True)
class PlannedTarget:
    """How one target will be found: through its per-symbol index set (``index``), or by SCAN.
    Either way a deletion keeps every index it touches exact (``deletion``)."""

    target: Target
    method: Method


@dataclass(frozen=True)
class Plan:
    """``work`` is the number of keys to examine, for a progress bar (DBSIZE per SCAN pass);
    ``node_keys`` is DBSIZE per node, in ``handle.nodes`` order."""

    targets: tuple[PlannedTarget, ...]
    work: int
    node_keys: tuple[int, ...] = ()


@dataclass(frozen=True)
class TargetResult:
    """``matched``: keys of the target that existed when examined; ``deleted``: what UNLINK
    removed. ``examined`` counts the keys SCAN returned (or the index listed) before the exact
    test. ``keys`` holds (node index, key) of the matches only when a preview kept them."""

    planned: PlannedTarget
    examined: int
    matched: int
    deleted: int
    memory_bytes: int
    regen_cost_usd: float
    keys: tuple[tuple[int, bytes], ...] = field(default=(), repr=False, compare=False)

    @property
    def target(self) -> Target:
        return self.planned.target

    @property
    def method(self) -> Method:
        return self.planned.method


@dataclass(frozen=True)
class Invalidation:
    """The outcome of a preview (``dry_run``) or a deletion. ``complete`` is False when the
    run was interrupted and the figures cover only what was gathered so far."""

    dry_run: bool
    targets: tuple[TargetResult, ...]
    sample_keys: tuple[str, ...] = ()
    complete: bool = True
    pace: Pace | None = None  # --pace on a SCAN walk: the server CPU share it kept to

    @property
    def matched(self) -> int:
        return sum(t.matched for t in self.targets)

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.targets)

    @property
    def memory_bytes(self) -> int:
        return sum(t.memory_bytes for t in self.targets)

    @property
    def regen_cost_usd(self) -> float:
        return sum(t.regen_cost_usd for t in self.targets)

    @property
    def method(self) -> str:
        """``scan``, ``index``, or ``index+scan`` when symbols were found both ways."""
        methods = sorted({t.method for t in self.targets})
        return "+".join(methods) if methods else "scan"


class InvalidationInterrupted(PartialFailure):
    """Ctrl-C during a deletion: says how many keys are already gone; exit 130."""

    exit_code = EXIT_INTERRUPTED
