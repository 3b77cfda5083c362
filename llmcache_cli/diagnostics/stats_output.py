"""The dashboard's machine-readable forms: JSON fields and the Prometheus text exposition.

Both are pure functions of a ``StatsReport``. ``nodes`` lists the primaries then (in a cluster)
the replicas, each with its ``role``; the totals are sums over the primaries only. The Prometheus
metrics are defined once, in ``stats_metrics`` (shared with ``llmcache exporter``).
"""

from __future__ import annotations

from typing import Any

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
