"""The dashboard as Prometheus metric families, built with ``prometheus_client``.

One definition serves ``stats --format prometheus`` (``exposition``) and the exporter's
collector (``families``): metric names start with ``llmcache_``; counters are typed as counters
(``prometheus_client`` writes their ``_total``); bytes and seconds are in base units; a figure that
is undefined (a hit rate with no lookups) is left out rather than written as NaN. Per-node
metrics carry ``node`` and ``role`` labels, per-namespace ones ``namespace``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from llmcache_cli.diagnostics.dashboard import StatsReport
from llmcache_cli.diagnostics.stats_warnings import CODES

PREFIX = "llmcache_"
COUNTER = "counter"
GAUGE = "gauge"

# (name, type, help, value of a row). ``{exact}`` in a help text says whether the namespace
# breakdown was exact or sampled. A counter's name is given with the ``_total`` it is exposed with.
MetricSpec = tuple[str, str, str, Callable[[Any], "float | None"]]
SERVER_METRICS: tuple[MetricSpec, ...] = (
    (
        "uptime_seconds",
        GAUGE,
        "Seconds since the server started (smallest node).",
        lambda s: s.uptime_seconds,
    ),
    ("used_memory_bytes", GAUGE, "Memory used by Redis.", lambda s: s.used_memory_bytes),
    ("used_memory_peak_bytes", GAUGE, "Peak memory used by Redis.", lambda s: s.used_memory_peak_bytes),
    ("maxmemory_bytes", GAUGE, "maxmemory (0: no limit).", lambda s: s.maxmemory_bytes),
    ("mem_fragmentation_ratio", GAUGE, "RSS over used memory.", lambda s: s.mem_fragmentation_ratio),
    ("connected_clients", GAUGE, "Connected clients.", lambda s: s.connected_clients),
    ("ops_per_second", GAUGE, "Instantaneous operations per second.", lambda s: s.ops_per_sec),
)
KEYSPACE_METRICS: tuple[MetricSpec, ...] = (
    ("keys", GAUGE, "Keys in the database (DBSIZE).", lambda k: k.keys),
    ("keys_with_ttl", GAUGE, "Keys with a TTL.", lambda k: k.keys_with_ttl),
    ("keyspace_hits_total", COUNTER, "Successful key lookups.", lambda k: k.hits),
    ("keyspace_misses_total", COUNTER, "Failed key lookups.", lambda k: k.misses),
    ("keyspace_hit_rate", GAUGE, "Keyspace hits over lookups.", lambda k: k.hit_rate),
    ("evicted_keys_total", COUNTER, "Keys evicted by maxmemory.", lambda k: k.evicted_keys),
    ("expired_keys_total", COUNTER, "Keys expired by TTL.", lambda k: k.expired_keys),
)
LLM_METRICS: tuple[MetricSpec, ...] = (
    ("llm_hits_total", COUNTER, "Cache hits counted by the library.", lambda r: r.hits),
    ("llm_misses_total", COUNTER, "Cache misses counted by the library.", lambda r: r.misses),
    (
        "llm_near_hits_total",
        COUNTER,
        "Of the hits, those served from the library's near cache.",
        lambda r: r.near_hits,
    ),
    ("llm_hit_rate", GAUGE, "Library hits over lookups.", lambda r: r.hit_rate),
    ("llm_cost_spent_usd_total", COUNTER, "US dollars spent on LLM calls.", lambda r: r.cost_spent_usd),
    ("llm_cost_saved_usd_total", COUNTER, "US dollars saved by cache hits.", lambda r: r.cost_saved_usd),
    (
        "llm_time_saved_seconds_total",
        COUNTER,
        "LLM latency saved by cache hits.",
        lambda r: r.time_saved_ms / 1000.0,
    ),
)
NAMESPACE_METRICS: tuple[MetricSpec, ...] = (
    ("namespace_keys", GAUGE, "Keys per namespace ({exact}).", lambda n: n.keys),
    ("namespace_memory_bytes", GAUGE, "Memory per namespace ({exact}).", lambda n: n.memory_bytes),
    ("namespace_no_ttl_keys", GAUGE, "Keys without TTL per namespace ({exact}).", lambda n: n.no_ttl_keys),
)
NODE_METRICS: tuple[MetricSpec, ...] = (
    ("node_keys", GAUGE, "Keys on each node (DBSIZE).", lambda n: n.keys),
    ("node_used_memory_bytes", GAUGE, "Memory used on each node.", lambda n: n.used_memory_bytes),
    ("node_keyspace_hits_total", COUNTER, "Successful key lookups per node.", lambda n: n.hits),
    ("node_keyspace_misses_total", COUNTER, "Failed key lookups per node.", lambda n: n.misses),
    ("node_evicted_keys_total", COUNTER, "Keys evicted by maxmemory per node.", lambda n: n.evicted_keys),
)


def family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float | None]]
) -> Metric | None:
    """One metric family of the defined samples; None when none is defined."""
    rows = [(labels, value) for labels, value in samples if value is not None]
    if not rows:
        return None
    labels = sorted({k for row, _ in rows for k in row})
    made = (CounterMetricFamily if kind == COUNTER else GaugeMetricFamily)(
        PREFIX + name, help_text, labels=labels
    )
    for row, value in rows:
        made.add_metric([row.get(k, "") for k in labels], float(value))
    return made


def _group(
    specs: Sequence[MetricSpec], rows: Sequence[tuple[Mapping[str, str], Any]], exact: str
) -> Iterator[Metric]:
    for name, kind, help_text, get in specs:
        made = family(name, kind, help_text.format(exact=exact), [(labels, get(r)) for labels, r in rows])
        if made is not None:
            yield made


def families(report: StatsReport) -> list[Metric]:
    """Every metric of the report."""
    server, keyspace = report.server, report.keyspace
    info = {
        "product": server.product,
        "version": server.version,
        "mode": server.mode,
        "maxmemory_policy": server.maxmemory_policy,
    }
    exact = "exact" if report.breakdown.exact else "estimated from a sample"
    facts = family("server_info", GAUGE, "Server facts as labels (product: redis or valkey).", [(info, 1)])
    out = [facts] if facts is not None else []
    out += _group(SERVER_METRICS, [({}, server)], exact)
    out += _group(KEYSPACE_METRICS, [({}, keyspace)], exact)
    out += _group(LLM_METRICS, [({"namespace": r.namespace}, r) for r in report.llm.namespaces], exact)
    out += _group(
        NAMESPACE_METRICS, [({"namespace": n.namespace}, n) for n in report.breakdown.namespaces], exact
    )
    nodes = [({"node": n.name, "role": n.role}, n) for n in (*report.nodes, *report.replicas)]
    out += _group(NODE_METRICS, nodes, exact)
    active = {w.code for w in report.warnings}
    warning = family(
        "warning",
        GAUGE,
        "1 when the dashboard raises this warning (on any node).",
        [({"code": c}, int(c in active)) for c in CODES],
    )
    return [*out, *([warning] if warning else [])]


class Families:
    """A collector that yields what ``get`` returns at each collection."""

    def __init__(self, get: Callable[[], Sequence[Metric]]) -> None:
        self._get = get

    def collect(self) -> Iterator[Metric]:
        yield from self._get()


def registry_of(get: Callable[[], Sequence[Metric]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families(get))
    return registry


def exposition(report: StatsReport) -> str:
    """The text exposition format (version 0.0.4), as ``prometheus_client`` writes it."""
    return generate_latest(registry_of(lambda: families(report))).decode("utf-8")
