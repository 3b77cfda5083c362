"""``llmcache stats``: the dashboard as tables, as JSON and as the Prometheus text exposition.

All are pure functions of a ``StatsReport``. ``nodes`` lists the primaries then (in a cluster)
the replicas, each with its ``role``; the totals are sums over the primaries only. The Prometheus
metrics are defined once, in ``diagnostics/stats_metrics`` (shared with ``llmcache exporter``).
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from llmcache_cli.cli.render.stats_panels import llm_cells, server_rows, warning_lines
from llmcache_cli.cli.render.tables import Col, fit, pairs
from llmcache_cli.cli.render.units import human_bytes, human_count, human_pct, human_rate
from llmcache_cli.diagnostics.common import pct
from llmcache_cli.diagnostics.dashboard import StatsReport
from llmcache_cli.diagnostics.live_counters import LLMCounters
from llmcache_cli.diagnostics.serverinfo import NodeInfo


def _llm_json(row: LLMCounters) -> dict[str, Any]:
    return {
        "hits": row.hits,
        "near_hits": row.near_hits,
        "misses": row.misses,
        "hit_rate": row.hit_rate,
        "cost_spent_usd": round(row.cost_spent_usd, 6),
        "cost_saved_usd": round(row.cost_saved_usd, 6),
        "time_saved_ms": round(row.time_saved_ms, 3),
    }


def _node_json(node: NodeInfo) -> dict[str, Any]:
    return {
        "name": node.name,
        "role": node.role,
        "primary": node.primary,
        "product": node.product,
        "version": node.version,
        "uptime_seconds": node.uptime_seconds,
        "keys": node.keys,
        "keys_with_ttl": node.keys_with_ttl,
        "used_memory_bytes": node.used_memory_bytes,
        "maxmemory_bytes": node.maxmemory_bytes,
        "maxmemory_policy": node.maxmemory_policy,
        "mem_fragmentation_ratio": node.mem_fragmentation_ratio,
        "hits": node.hits,
        "misses": node.misses,
        "hit_rate": node.hit_rate,
        "evicted_keys": node.evicted_keys,
        "expired_keys": node.expired_keys,
        "connected_clients": node.connected_clients,
        "ops_per_sec": node.ops_per_sec,
    }


def as_json(report: StatsReport) -> dict[str, Any]:
    server, keyspace, memory = report.server, report.keyspace, report.breakdown
    total_memory = sum(ns.memory_bytes for ns in memory.namespaces)
    return {
        "pace": None if report.pace is None else report.pace.as_json(),
        "per_key_method": report.breakdown.method,
        "server": {
            "product": server.product,
            "version": server.version,
            "mode": server.mode,
            "nodes": server.nodes,
            "uptime_seconds": server.uptime_seconds,
            "used_memory_bytes": server.used_memory_bytes,
            "used_memory_peak_bytes": server.used_memory_peak_bytes,
            "used_memory_rss_bytes": server.used_memory_rss_bytes,
            "maxmemory_bytes": server.maxmemory_bytes,
            "maxmemory_policy": server.maxmemory_policy,
            "mem_fragmentation_ratio": server.mem_fragmentation_ratio,
            "connected_clients": server.connected_clients,
            "ops_per_sec": server.ops_per_sec,
            "features": dict(server.features),
        },
        "keyspace": {
            "keys": keyspace.keys,
            "keys_with_ttl": keyspace.keys_with_ttl,
            "keys_without_ttl": keyspace.keys_without_ttl,
            "hits": keyspace.hits,
            "misses": keyspace.misses,
            "hit_rate": keyspace.hit_rate,
            "evicted_keys": keyspace.evicted_keys,
            "expired_keys": keyspace.expired_keys,
        },
        "llm": {
            **_llm_json(report.llm.total),
            "exact": report.llm.exact,
            "namespaces": [{"namespace": row.namespace, **_llm_json(row)} for row in report.llm.namespaces],
        },
        "namespaces": [
            {
                "namespace": ns.namespace,
                "data_type": ns.data_type,
                "internal": ns.internal,
                "kind": ns.kind,
                "keys": ns.keys,
                "memory_bytes": ns.memory_bytes,
                "memory_pct": pct(ns.memory_bytes, total_memory),
                "no_ttl_keys": ns.no_ttl_keys,
                "no_ttl_pct": ns.no_ttl_pct,
            }
            for ns in memory.namespaces
        ],
        "breakdown": {"exact": memory.exact, "scanned": memory.scanned},
        "nodes": [_node_json(n) for n in (*report.nodes, *report.replicas)],
        "warnings": [{"code": w.code, "message": w.message, "node": w.node} for w in report.warnings],
        "partial": report.partial,
    }


def prometheus(report: StatsReport) -> str:
    """The text exposition format (version 0.0.4), written by ``prometheus_client`` from the
    metric families the exporter serves (``stats_metrics``)."""
    from llmcache_cli.diagnostics.stats_metrics import exposition  # prometheus_client: only here

    return exposition(report)


# ---------------------------------------------------------------------------------------------
# The dashboard


def _nodes_table(report: StatsReport, width: int) -> list[RenderableType]:
    """A cluster's nodes, one row each (none for a single server: the tables above are it)."""
    nodes = (*report.nodes, *report.replicas)
    if len(nodes) < 2:
        return []
    cols = [Col("node", key=True), Col("role", key=True)]
    cols += [Col(name, right=True) for name in ("keys", "memory", "hit rate", "evicted", "ops/s")]
    rows = [
        (
            node.name,
            node.role if node.primary is None else f"{node.role} of {node.primary}",
            f"{node.keys:,}",
            human_bytes(node.used_memory_bytes),
            human_rate(node.hit_rate),
            f"{node.evicted_keys:,}",
            f"{node.ops_per_sec:,}",
        )
        for node in nodes
    ]
    return [fit("Nodes (totals above are the primaries' sums)", cols, rows, width)]


def dashboard(report: StatsReport, width: int) -> Group:
    keyspace, llm, memory = report.keyspace, report.llm, report.breakdown
    server_table = pairs("Server", server_rows(report), first=True)
    keyspace_table = pairs(
        "Keyspace (hits and misses leave out llmcache's own reads)",
        [
            ("keys", f"{keyspace.keys:,}"),
            ("with TTL / without", f"{keyspace.keys_with_ttl:,} / {keyspace.keys_without_ttl:,}"),
            ("hits / misses", f"{keyspace.hits:,} / {keyspace.misses:,}"),
            ("hit rate", human_rate(keyspace.hit_rate)),
            ("evicted / expired", f"{keyspace.evicted_keys:,} / {keyspace.expired_keys:,}"),
        ],
    )
    llm_cols = [Col("namespace", key=True)]
    llm_cols += [
        Col(name, right=True)
        for name in ("hits", "near", "misses", "hit rate", "$ spent", "$ saved", "time\nsaved")
    ]
    llm_rows = [llm_cells(row) for row in (*llm.namespaces, llm.total)]
    llm_table = fit("LLM cache (the library's counters)", llm_cols, llm_rows, width)
    how = (
        "every key" if memory.exact else f"a sample of {memory.scanned:,} keys (~: estimated; --full: exact)"
    )
    space_cols = [Col("namespace", key=True), Col("data type"), Col("keys", right=True)]
    space_cols += [Col("memory", right=True), Col("no TTL", right=True)]
    space_rows = [
        (
            ns.namespace,
            ns.data_type or ("-" if ns.internal else "other"),
            human_count(ns.keys, memory.exact),
            human_bytes(ns.memory_bytes),
            human_pct(ns.no_ttl_pct),
        )
        for ns in memory.namespaces
    ]
    spaces = fit(f"Namespaces, from {how}", space_cols, space_rows, width)
    parts: list[RenderableType] = [
        server_table,
        keyspace_table,
        *_nodes_table(report, width),
        llm_table,
        spaces,
    ]
    if any(ns.kind == "other" for ns in memory.namespaces):
        parts.append(Text("other: not a namespace of the cache (add it to [keys] namespaces if it is)."))
    if not llm.exact:
        parts.append(Text("LLM counters looked up for the data types and the sampled namespaces."))
    if report.warnings:
        parts.append(Text("\nWarnings:", style="bold yellow"))
        parts += [Text(f"  ! {line}", style="yellow") for line in warning_lines(report)]
    else:
        parts.append(Text("\nNo warnings.", style="green"))
    if report.partial:
        parts.append(
            Text("Interrupted: the namespace figures cover only the keys scanned so far.", style="red")
        )
    return Group(*parts)
