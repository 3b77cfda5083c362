"""``llmcache large-keys``: the report as tables and as JSON."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from llmcache_cli.cli.render.tables import Col, fit
from llmcache_cli.cli.render.units import human_bytes, human_pct, human_ttl, plural
from llmcache_cli.diagnostics.common import pct
from llmcache_cli.diagnostics.key_sizes import LargeKeysReport


def table(report: LargeKeysReport, width: int) -> list[RenderableType]:
    what = f" matching {report.pattern}" if report.pattern else ""
    head = Text(
        f"Scanned {plural(report.scanned, 'key')}{what}: {human_bytes(report.total_memory_bytes)} in all"
    )
    top = fit(
        f"Top {plural(report.top, 'key')} by memory",
        [
            Col("key", key=True),
            Col("memory", right=True),
            Col("type"),
            Col("TTL", right=True),
            Col("namespace", key=True),
        ],
        [(k.key, human_bytes(k.bytes), k.type, human_ttl(k.ttl_seconds), k.namespace) for k in report.keys],
        width,
    )
    total = report.total_memory_bytes
    spaces = fit(
        "Memory by namespace",
        [
            Col("namespace", key=True),
            Col("keys", right=True),
            Col("memory", right=True),
            Col("share", right=True),
        ],
        [
            (
                ns.namespace,
                f"{ns.keys:,}",
                human_bytes(ns.memory_bytes),
                human_pct(pct(ns.memory_bytes, total)),
            )
            for ns in report.namespaces
        ],
        width,
    )
    return [head, top, spaces]


def as_json(report: LargeKeysReport) -> dict[str, Any]:
    total = report.total_memory_bytes
    return {
        "scanned": report.scanned,
        "vanished": report.vanished,
        "partial": report.partial,
        "top": report.top,
        "samples": report.samples,
        "pattern": report.pattern,
        "total_memory_bytes": total,
        "pace": None if report.pace is None else report.pace.as_json(),
        "keys": [
            {"key": k.key, "bytes": k.bytes, "type": k.type, "ttl": k.ttl_seconds, "namespace": k.namespace}
            for k in report.keys
        ],
        "namespaces": [
            {
                "namespace": ns.namespace,
                "keys": ns.keys,
                "memory_bytes": ns.memory_bytes,
                "memory_pct": pct(ns.memory_bytes, total),
            }
            for ns in report.namespaces
        ],
    }
