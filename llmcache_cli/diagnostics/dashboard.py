"""The metrics dashboard (``llmcache stats``): server, keyspace, LLM counters, namespaces, warnings.

Server and keyspace figures come from ``INFO`` and ``DBSIZE`` (exact, cheap). The namespace
breakdown needs ``MEMORY USAGE`` and ``PTTL`` per key: by default from a sample (the first SCAN
batches, about ``sample`` keys; SCAN walks hash buckets, so that is a random sample of keys)
extrapolated to DBSIZE, or exact over every key with ``full``. The LLM counters are found by SCAN
when the scan is full or the keyspace is small, else looked up by name (see ``live_counters``). In a
cluster the primaries are summed and scanned concurrently; ``nodes`` and ``replicas`` keep the
per-node figures, and the warnings (``stats_warnings``) name the node they concern.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from llmcache_cli.client import Node, RedisHandle
from llmcache_cli.config import DATA_TYPES
from llmcache_cli.diagnostics import live_counters, own_reads, per_key, serverinfo
from llmcache_cli.diagnostics.common import Breakdown, NamespaceTally
from llmcache_cli.diagnostics.live_counters import LLMSummary
from llmcache_cli.diagnostics.own_reads import pttl_lookups
from llmcache_cli.diagnostics.serverinfo import KeyspaceFigures, NodeInfo, ServerFigures
from llmcache_cli.diagnostics.stats_warnings import StatsWarning, find_warnings
from llmcache_cli.pace import Pace, Pacers
from llmcache_cli.scan import SCAN_COUNT, BatchScan, each_node, scan_batches

DEFAULT_SAMPLE = 10_000
COUNTER_SCAN_MAX_KEYS = 200_000  # up to here a full SCAN for the counter hashes costs < 0.2 s

Progress = Callable[[int], None]


@dataclass(frozen=True)
class StatsReport:
    server: ServerFigures
    keyspace: KeyspaceFigures
    nodes: tuple[NodeInfo, ...]  # the primaries (the single server), in scan order
    llm: LLMSummary
    breakdown: Breakdown
    warnings: tuple[StatsWarning, ...]
    partial: bool  # interrupted during the breakdown scan
    replicas: tuple[NodeInfo, ...] = ()  # a cluster's replicas that answered (never summed)
    pace: Pace | None = None  # --pace: the server CPU share the breakdown scan kept to
    # (hits, misses) this report's own reads added to INFO's keyspace figures after INFO was read
    # (a long-running process such as the exporter keeps its own account with them; they are
    # also counted on the handle, for diagnostics/own_reads.py)
    own_lookups: tuple[int, int] = (0, 0)


def collect_stats(
    handle: RedisHandle,
    *,
    full: bool = False,
    sample: int = DEFAULT_SAMPLE,
    cache_namespaces: Collection[str] = (),
    on_progress: Progress | None = None,
    pace: float | None = None,
    in_server: bool = False,
) -> StatsReport:
    """Everything the dashboard shows; Ctrl-C during the scan returns it ``partial``.

    The keyspace hits and misses (totals and per node) leave out the tool's own lookups, this
    report's and earlier runs' (``own_reads``); this report's are stored for the next.
    """
    if sample < 1:
        raise ValueError("sample must be at least 1")
    nodes = _without_own_reads(handle, serverinfo.gather(handle))
    keyspace = serverinfo.keyspace_figures(nodes)
    pacers = Pacers(pace)
    breakdown, partial = _breakdown(
        handle, nodes, full, sample, cache_namespaces, on_progress, pacers, in_server
    )
    if breakdown.exact and breakdown.counter_keys is not None:
        llm = live_counters.read_counters(handle, breakdown.counter_keys, exact=True)
    elif breakdown.exact or keyspace.keys <= COUNTER_SCAN_MAX_KEYS:
        llm = live_counters.scan_counters(handle)
    else:
        # the library may count under any namespace it writes, not only the data types
        names = [n.namespace for n in breakdown.namespaces if n.kind != "bookkeeping"]
        seen = [name for name in names if not name.startswith("(")]  # not "(no namespace)"
        llm = live_counters.lookup_counters(handle, [*DATA_TYPES, *seen])
    server = serverinfo.server_figures(nodes, serverinfo.features(handle))
    own_reads.record(handle)
    return live_report(
        handle,
        server,
        keyspace,
        nodes,
        llm,
        breakdown,
        partial=partial,
        pace=pacers.result(),
        own_lookups=(breakdown.lookups[0] + llm.lookups[0], breakdown.lookups[1] + llm.lookups[1]),
    )


def live_report(
    handle: RedisHandle,
    server: ServerFigures,
    keyspace: KeyspaceFigures,
    nodes: tuple[NodeInfo, ...],
    llm: LLMSummary,
    breakdown: Breakdown,
    **rest: Any,
) -> StatsReport:
    """A live server's report from its figures: the cluster's replicas asked for, the warnings
    found (``rest``: the other fields of StatsReport)."""
    replicas, unreachable = serverinfo.gather_replicas(handle)
    warnings = find_warnings(server, keyspace, breakdown, llm, nodes, unreachable)
    return StatsReport(server, keyspace, nodes, llm, breakdown, tuple(warnings), replicas=replicas, **rest)


def _without_own_reads(handle: RedisHandle, nodes: tuple[NodeInfo, ...]) -> tuple[NodeInfo, ...]:
    pending = {i: tuple(row) for i, row in handle.lookups.items()}  # made before this INFO
    mine = own_reads.stored([n.run_id for n in nodes], [n.hits + n.misses for n in nodes], pending)
    return tuple(
        replace(node, hits=max(0, node.hits - own.hits), misses=max(0, node.misses - own.misses))
        for node, own in zip(nodes, mine, strict=True)
    )


def _breakdown(
    handle: RedisHandle,
    nodes: Sequence[NodeInfo],
    full: bool,
    sample: int,
    cache_namespaces: Collection[str],
    on_progress: Progress | None,
    pacers: Pacers,
    in_server: bool,
) -> tuple[Breakdown, bool]:
    """Every primary (a cluster's concurrently), each one's sample scaled to its own DBSIZE;
    ``in_server``: the per-key figures from a page script where the node runs it."""
    per_node = None if full else max(1, math.ceil(sample / len(handle.nodes)))
    count = SCAN_COUNT if per_node is None else min(SCAN_COUNT, per_node)
    tallies = [NamespaceTally(watch=live_counters.STATS_PREFIX) for _ in handle.nodes]
    scans: dict[int, BatchScan] = {}

    partial = False

    methods: list[str] = []
    looked = [0, 0]  # (hits, misses) of the PTTLs
    for i, node in enumerate(handle.nodes):
        method, probed = per_key.method_for(node, in_server)
        methods.append(method)
        handle.count_lookups(i, probed)  # the probe's PTTL of an existing key
        looked[0] += probed

    def node_batches(i: int, node: Node) -> BatchScan:
        scans[i] = scan_batches(
            node,
            per_key.commands(methods[i]),
            count=count,
            max_keys=per_node,
            script=per_key.page_script(methods[i]),
            on_page=pacers.hook(i, node.client),
        )
        return scans[i]

    scan = each_node(handle, node_batches)
    try:
        with scan:
            for i, batch in scan:
                memories, pttls = per_key.split(batch)
                tallies[i].add_batch(batch.keys, memories, pttls)
                hits, misses = pttl_lookups(pttls)
                handle.count_lookups(i, hits, misses)
                looked[0] += hits
                looked[1] += misses
                if on_progress is not None:
                    on_progress(len(batch.keys))
    except KeyboardInterrupt:
        partial = True
    total = NamespaceTally(watch=live_counters.STATS_PREFIX)
    exact = not partial
    for i, (tally, info) in enumerate(zip(tallies, nodes, strict=True)):
        complete = i in scans and scans[i].complete
        exact = exact and complete
        # A sample is scaled up to the node's DBSIZE; what an interrupted node gave is kept as is.
        scaled = i in scan.finished and not complete and tally.keys
        total.merge(tally, info.keys / tally.keys if scaled else 1.0)
    scanned = sum(t.keys for t in tallies)
    found = None if total.watched_overflow else tuple(total.watched)
    method = per_key.method_name(methods)
    lookups = (looked[0], looked[1])
    return Breakdown(exact, scanned, total.rows(cache_namespaces), found, lookups, method), partial
