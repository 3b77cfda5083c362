"""The dashboard's machine-readable forms: JSON fields and the Prometheus text exposition.

Both are pure functions of a ``StatsReport``. ``nodes`` lists the primaries then (in a cluster)
the replicas, each with its ``role``; the totals are sums over the primaries only. Prometheus
metric names start with ``llmcache_``; counters end in ``_total``; bytes and seconds are in base
units; a figure that is undefined (a hit rate with no lookups) is left out rather than written as
NaN. Per-node metrics carry ``node`` and ``role`` labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from llmcache_cli.diagnostics.common import pct
from llmcache_cli.diagnostics.counters import LLMCounters
from llmcache_cli.diagnostics.serverinfo import NodeInfo
from llmcache_cli.diagnostics.stats import StatsReport
from llmcache_cli.diagnostics.stats_warnings import CODES

Labels = Mapping[str, str]


def _llm_json(row: LLMCounters) -> dict[str, Any]:
    return {
        "hits": row.hits,
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


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels, float | None]]
    ) -> None:
        rows = [(labels, value) for labels, value in samples if value is not None]
        if not rows:
            return
        full = f"llmcache_{name}"
        self.lines += [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}"]
        for labels, value in rows:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{full}{{{text}}} {_value(value)}" if text else f"{full} {_value(value)}")

    def one(self, name: str, kind: str, help_text: str, value: float | None) -> None:
        self.metric(name, kind, help_text, [({}, value)])


# Labelled metrics, one sample per row: (name, type, help, value of a row). ``{exact}`` in a
# help text says whether the namespace breakdown was exact or sampled.
MetricSpec = tuple[str, str, str, Callable[[Any], "float | None"]]
LLM_METRICS: tuple[MetricSpec, ...] = (
    ("llm_hits_total", "counter", "Cache hits counted by the library.", lambda r: r.hits),
    ("llm_misses_total", "counter", "Cache misses counted by the library.", lambda r: r.misses),
    ("llm_hit_rate", "gauge", "Library hits over lookups.", lambda r: r.hit_rate),
    ("llm_cost_spent_usd_total", "counter", "US dollars spent on LLM calls.", lambda r: r.cost_spent_usd),
    ("llm_cost_saved_usd_total", "counter", "US dollars saved by cache hits.", lambda r: r.cost_saved_usd),
    (
        "llm_time_saved_seconds_total",
        "counter",
        "LLM latency saved by cache hits.",
        lambda r: r.time_saved_ms / 1000.0,
    ),
)
NAMESPACE_METRICS: tuple[MetricSpec, ...] = (
    ("namespace_keys", "gauge", "Keys per namespace ({exact}).", lambda n: n.keys),
    ("namespace_memory_bytes", "gauge", "Memory per namespace ({exact}).", lambda n: n.memory_bytes),
    ("namespace_no_ttl_keys", "gauge", "Keys without TTL per namespace ({exact}).", lambda n: n.no_ttl_keys),
)
NODE_METRICS: tuple[MetricSpec, ...] = (
    ("node_keys", "gauge", "Keys on each node (DBSIZE).", lambda n: n.keys),
    ("node_used_memory_bytes", "gauge", "Memory used on each node.", lambda n: n.used_memory_bytes),
    ("node_keyspace_hits_total", "counter", "Successful key lookups per node.", lambda n: n.hits),
    ("node_keyspace_misses_total", "counter", "Failed key lookups per node.", lambda n: n.misses),
    ("node_evicted_keys_total", "counter", "Keys evicted by maxmemory per node.", lambda n: n.evicted_keys),
)


def prometheus(report: StatsReport) -> str:
    """The text exposition format (version 0.0.4)."""
    out = _Exposition()
    server, keyspace = report.server, report.keyspace
    info = {
        "product": server.product,
        "version": server.version,
        "mode": server.mode,
        "maxmemory_policy": server.maxmemory_policy,
    }
    out.metric("server_info", "gauge", "Redis server facts as labels.", [(info, 1)])
    out.one(
        "uptime_seconds", "gauge", "Seconds since the server started (smallest node).", server.uptime_seconds
    )
    out.one("used_memory_bytes", "gauge", "Memory used by Redis.", server.used_memory_bytes)
    out.one("used_memory_peak_bytes", "gauge", "Peak memory used by Redis.", server.used_memory_peak_bytes)
    out.one("maxmemory_bytes", "gauge", "maxmemory (0: no limit).", server.maxmemory_bytes)
    out.one("mem_fragmentation_ratio", "gauge", "RSS over used memory.", server.mem_fragmentation_ratio)
    out.one("connected_clients", "gauge", "Connected clients.", server.connected_clients)
    out.one("ops_per_second", "gauge", "Instantaneous operations per second.", server.ops_per_sec)
    out.one("keys", "gauge", "Keys in the database (DBSIZE).", keyspace.keys)
    out.one("keys_with_ttl", "gauge", "Keys with a TTL.", keyspace.keys_with_ttl)
    out.one("keyspace_hits_total", "counter", "Successful key lookups.", keyspace.hits)
    out.one("keyspace_misses_total", "counter", "Failed key lookups.", keyspace.misses)
    out.one("keyspace_hit_rate", "gauge", "Keyspace hits over lookups.", keyspace.hit_rate)
    out.one("evicted_keys_total", "counter", "Keys evicted by maxmemory.", keyspace.evicted_keys)
    out.one("expired_keys_total", "counter", "Keys expired by TTL.", keyspace.expired_keys)
    exact = "exact" if report.breakdown.exact else "estimated from a sample"
    groups = (
        ([({"namespace": r.namespace}, r) for r in report.llm.namespaces], LLM_METRICS),
        ([({"namespace": n.namespace}, n) for n in report.breakdown.namespaces], NAMESPACE_METRICS),
        ([({"node": n.name, "role": n.role}, n) for n in (*report.nodes, *report.replicas)], NODE_METRICS),
    )
    for rows, specs in groups:
        for name, kind, help_text, get in specs:
            out.metric(name, kind, help_text.format(exact=exact), [(k, get(r)) for k, r in rows])
    active = {w.code for w in report.warnings}
    out.metric(
        "warning",
        "gauge",
        "1 when the dashboard raises this warning (on any node).",
        [({"code": c}, int(c in active)) for c in CODES],
    )
    return "\n".join(out.lines) + "\n"
