"""``llmcache invalidate`` / ``purge-version``: the preview table, the summary line, the JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from llmcache_cli.cli.render.tables import Col, fit
from llmcache_cli.cli.render.units import dollars, human_bytes, plural
from llmcache_cli.invalidation import Invalidation


def as_json(result: Invalidation) -> dict[str, Any]:
    first = result.targets[0].target if result.targets else None
    data_types = first.data_types if first is not None else None
    return {
        "dry_run": result.dry_run,
        "matched": result.matched,
        "deleted": result.deleted,
        "memory_bytes": result.memory_bytes,
        "regen_cost_usd": round(result.regen_cost_usd, 6),
        "method": result.method,
        "complete": result.complete,
        "data_types": sorted(data_types) if data_types is not None else None,
        "namespace": first.namespace if first is not None else None,
        "targets": [
            {
                "kind": t.target.kind,
                "target": t.target.label,
                "method": t.method,
                "examined": t.examined,
                "matched": t.matched,
                "deleted": t.deleted,
                "memory_bytes": t.memory_bytes,
                "regen_cost_usd": round(t.regen_cost_usd, 6),
            }
            for t in result.targets
        ],
        "sample_keys": list(result.sample_keys),
        "pace": None if result.pace is None else result.pace.as_json(),
    }


def summary_line(result: Invalidation, asking: bool = False) -> str:
    figures = f"{human_bytes(result.memory_bytes)}, {dollars(result.regen_cost_usd)} to regenerate"
    if asking:
        return f"About to delete {plural(result.matched, 'key')} ({figures})."
    if result.matched == 0:
        return "No key matched: nothing to delete." if not result.dry_run else "Dry run: no key matched."
    if result.dry_run:
        return f"Dry run: {plural(result.matched, 'key')} would be deleted ({figures}). Nothing was deleted."
    return f"Deleted {result.deleted:,} of {plural(result.matched, 'matched key')} ({figures})."


def case_hint(other_cases: Mapping[str, Sequence[str]]) -> list[str]:
    """For symbols that matched nothing while the same letters in another case have entries."""
    return [
        f"hint: no key of {symbol!r}, but {', '.join(repr(o) for o in others)} has entries "
        "(symbols are case-sensitive)"
        for symbol, others in other_cases.items()
        if others
    ]


def table(
    result: Invalidation, width: int, with_table: bool = True, asking: bool = False
) -> list[RenderableType]:
    out: list[RenderableType] = []
    if with_table:
        cols = [Col("target", key=True), Col("scope", key=True), Col("found by")]
        cols += [Col("keys", right=True), Col("memory", right=True), Col("$ to regenerate", right=True)]
        rows = [
            (
                t.target.label,
                t.target.scope,
                t.method,
                f"{t.matched:,}",
                human_bytes(t.memory_bytes),
                dollars(t.regen_cost_usd),
            )
            for t in result.targets
        ]
        out.append(fit(None, cols, rows, width))
        if result.sample_keys:
            more = result.matched - len(result.sample_keys)
            tail = f" (and {more:,} more)" if more > 0 else ""
            out.append(Text("e.g. " + ", ".join(result.sample_keys) + tail))
    out.append(Text(summary_line(result, asking)))
    return out
