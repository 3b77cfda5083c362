"""``llmcache ttl``: the report as tables and as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from llmcache_cli.cli.render.tables import Col, fit
from llmcache_cli.cli.render.units import human_bytes, human_ttl, plural
from llmcache_cli.diagnostics.ttl_audit import TTLReport
from llmcache_cli.diagnostics.ttl_tally import KeyGroup


def _ttl(seconds: int | None) -> str:
    return "-" if seconds is None else human_ttl(seconds)


def _apart(group: KeyGroup) -> str:
    return f"{plural(group.keys, 'key')}, {human_bytes(group.memory_bytes)}"


def table(report: TTLReport, width: int) -> list[RenderableType]:
    scope = "" if report.exact else " (not every key: figures are for the keys looked at)"
    cache = report.scanned - report.bookkeeping.keys - report.other.keys
    lines = [
        f"{plural(report.scanned, 'key')} looked at: {report.selection}{scope}",
        f"cache entries: {cache:,}    no TTL: {report.no_ttl:,}    "
        f"over the {report.policy} policy: {report.over_policy:,}",
    ]
    if report.bookkeeping.keys:
        lines.append(f"llmcache's bookkeeping (llmcache:*): {_apart(report.bookkeeping)}, not judged")
    if report.other.keys:
        lines.append(f"other keys, outside the cache's namespaces: {_apart(report.other)}, not judged")
    out: list[RenderableType] = [Text("\n".join(lines))]
    out.append(
        fit(
            "Remaining TTL of the cache entries",
            [Col("TTL"), Col("keys", right=True), Col("memory", right=True)],
            [(b.label, f"{b.keys:,}", human_bytes(b.memory_bytes)) for b in report.buckets],
            width,
        )
    )
    if report.data_types:
        out.append(
            fit(
                f"TTL per data type against the {report.policy} policy",
                [
                    Col("data type", key=True),
                    Col("keys", right=True),
                    Col("no TTL", right=True),
                    Col("min", right=True),
                    Col("median", right=True),
                    Col("max", right=True),
                    Col("policy\nmax", right=True),
                    Col("over\npolicy", right=True),
                ],
                [
                    (
                        row.group,
                        f"{row.keys:,}",
                        f"{row.no_ttl:,}",
                        _ttl(row.min_ttl_seconds),
                        _ttl(row.median_ttl_seconds),
                        _ttl(row.max_ttl_seconds),
                        _ttl(row.policy_max_ttl_seconds),
                        f"{row.over_policy:,}",
                    )
                    for row in report.data_types
                ],
                width,
            )
        )
    if report.no_ttl_keys:
        out.append(
            fit(
                f"Cache entries with no TTL (largest {len(report.no_ttl_keys)})",
                [Col("key", key=True), Col("type"), Col("memory", right=True), Col("namespace", key=True)],
                [(k.key, k.type, human_bytes(k.memory_bytes), k.namespace) for k in report.no_ttl_keys],
                width,
            )
        )
    if report.over_policy_keys:
        out.append(
            fit(
                f"Cache entries over the policy (furthest {len(report.over_policy_keys)})",
                [
                    Col("key", key=True),
                    Col("data type"),
                    Col("TTL", right=True),
                    Col("policy\nmax", right=True),
                    Col("memory", right=True),
                ],
                [
                    (
                        k.key,
                        k.data_type,
                        human_ttl(k.ttl_seconds),
                        human_ttl(k.policy_max_ttl_seconds),
                        human_bytes(k.memory_bytes),
                    )
                    for k in report.over_policy_keys
                ],
                width,
            )
        )
    return out


def as_json(report: TTLReport) -> dict[str, Any]:
    """Every field of the report, by its own name (TTLs in exact seconds); a data-type row also
    says its ``data_type``."""
    out = asdict(report)
    for name in ("buckets", "data_types", "no_ttl_keys", "over_policy_keys"):
        out[name] = list(out[name])  # JSON arrays as lists, as everywhere else
    for row, fields in zip(report.data_types, out["data_types"], strict=True):
        fields["data_type"] = row.data_type
    out["pace"] = None if report.pace is None else report.pace.as_json()
    return out
