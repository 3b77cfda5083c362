"""``stats --full`` from RDB snapshots: the keyspace, the LLM counters and the namespace
breakdown of the same dashboard, with no server contacted.

A snapshot holds every key, so the breakdown is always exact; the counter hashes
(``llmcache:stats:<ns>``) are read whole on the way. What only a running server knows (uptime,
clients, ops/s, hits and misses since start, maxmemory, fragmentation) is not in a snapshot: those
figures are 0 / unknown, and the warnings about them are not raised. ``used_memory`` is the
``used-mem`` the server recorded when it wrote the file.
"""

from __future__ import annotations

from collections.abc import Callable

from llmcache_cli.diagnostics import live_counters
from llmcache_cli.diagnostics.common import Breakdown, NamespaceTally
from llmcache_cli.diagnostics.dashboard import StatsReport
from llmcache_cli.diagnostics.serverinfo import PRIMARY, NodeInfo, keyspace_figures, server_figures
from llmcache_cli.diagnostics.snapshot_reports import SnapshotSource, SnapshotSummary, _Walk
from llmcache_cli.diagnostics.stats_warnings import find_warnings
from llmcache_cli.rdb import SnapshotInfo

SNAPSHOT_MODE = "snapshot"
# The warnings that concern a running server's settings and history, not its keyspace.
_SERVER_ONLY = frozenset(
    {"no_maxmemory", "eviction_policy", "evictions", "fragmentation", "node_unreachable"}
)

Progress = Callable[[int], None]


def collect_stats(
    source: SnapshotSource, on_progress: Progress | None = None
) -> tuple[StatsReport, SnapshotSummary]:
    walker = _Walk(source, None, on_progress)
    walker.capture = lambda key: key.startswith(live_counters.STATS_PREFIX)
    tallies: list[NamespaceTally] = []
    with_ttl: list[int] = []
    collector = live_counters._Collector()

    def grow() -> None:  # one tally per file: a file is a node
        while len(tallies) < len(walker.infos):
            tallies.append(NamespaceTally(watch=live_counters.STATS_PREFIX))
            with_ttl.append(0)

    for batch, pttls in walker:
        grow()
        tallies[-1].add_batch(batch.keys, batch.memory, pttls)
        with_ttl[-1] += sum(1 for p in pttls if p >= 0)
        for key, fields in batch.hashes.items():
            pttl = pttls[batch.keys.index(key)]
            if pttl != -2:
                collector.add(key, fields, pttl)
    grow()
    nodes = tuple(_node(info, tallies[i].keys, with_ttl[i]) for i, info in enumerate(walker.infos))
    total = NamespaceTally()
    for tally in tallies:
        total.merge(tally)
    scanned = total.keys
    llm = collector.summary(exact=not walker.partial)
    llm = type(llm)(llm.total, llm.namespaces, llm.exact, llm.hashes_without_ttl)  # no lookups: no server
    breakdown = Breakdown(not walker.partial, scanned, total.rows(), None)
    server = server_figures(nodes) if nodes else server_figures((_node(SnapshotInfo("-"), 0, 0),))
    keyspace = keyspace_figures(nodes)
    warnings = [
        w for w in find_warnings(server, keyspace, breakdown, llm, nodes) if w.code not in _SERVER_ONLY
    ]
    report = StatsReport(
        server=server,
        keyspace=keyspace,
        nodes=nodes,
        llm=llm,
        breakdown=breakdown,
        warnings=tuple(warnings),
        partial=walker.partial,
    )
    return report, walker.summary()


def _node(info: SnapshotInfo, keys: int, with_ttl: int) -> NodeInfo:
    used = info.aux.get("used-mem", "0")
    return NodeInfo(
        name=info.path,
        role=PRIMARY,
        primary=None,
        product="valkey" if "valkey-ver" in info.aux else "redis",
        version=info.server_version or "unknown",
        mode=SNAPSHOT_MODE,
        uptime_seconds=0,
        used_memory_bytes=int(used) if used.isdigit() else 0,
        used_memory_peak_bytes=0,
        used_memory_rss_bytes=0,
        maxmemory_bytes=0,
        maxmemory_policy="unknown",
        mem_fragmentation_ratio=None,
        mem_fragmentation_bytes=None,
        connected_clients=0,
        ops_per_sec=0,
        keys=keys,
        keys_with_ttl=with_ttl,
        hits=0,
        misses=0,
        evicted_keys=0,
        expired_keys=0,
    )
