"""The metrics dashboard (``llmcache stats``): server, keyspace, LLM counters, namespaces, warnings.

Server and keyspace figures come from ``INFO`` and ``DBSIZE`` (exact, cheap). The namespace
breakdown needs ``MEMORY USAGE`` and ``PTTL`` per key: by default from a sample (the first SCAN
batches, about ``sample`` keys; SCAN walks hash buckets, so that is a random sample of keys)
extrapolated to DBSIZE, or exact over every key with ``full``. The LLM counters are found by SCAN
when the scan is full or the keyspace is small, else looked up by name (see ``counters``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from llmcache_cli.client import RedisHandle
from llmcache_cli.config import DATA_TYPES
from llmcache_cli.diagnostics import counters, serverinfo
from llmcache_cli.diagnostics.common import NamespaceTally, NamespaceUsage, is_internal_label, pct
from llmcache_cli.diagnostics.counters import LLMSummary
from llmcache_cli.diagnostics.fastscan import KeyCommands, scan_batches
from llmcache_cli.diagnostics.serverinfo import KeyspaceFigures, NodeInfo, ServerFigures
from llmcache_cli.scan import KEY, SCAN_COUNT

DEFAULT_SAMPLE = 10_000
COUNTER_SCAN_MAX_KEYS = 200_000  # up to here a full SCAN for the counter hashes costs < 0.2 s
CACHE_POLICIES = ("allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu")
FRAGMENTATION_RATIO = 1.5
FRAGMENTATION_MIN_BYTES = 64 * 1024 * 1024  # below this the ratio of a small instance means nothing

Progress = Callable[[int], None]
_MEMORY_AND_TTL = KeyCommands(("MEMORY", "USAGE", KEY), ("PTTL", KEY))


@dataclass(frozen=True)
class Breakdown:
    exact: bool  # every key was measured (False: extrapolated from a sample)
    scanned: int  # keys measured
    namespaces: tuple[NamespaceUsage, ...]
    counter_keys: tuple[bytes, ...] | None  # the counter hashes met (None: not all could be kept)
    lookups: tuple[int, int] = (0, 0)  # (hits, misses) Redis counted for the PTTLs


@dataclass(frozen=True)
class StatsWarning:
    code: str  # stable: no_maxmemory, eviction_policy, keys_without_ttl, evictions, fragmentation
    message: str


@dataclass(frozen=True)
class StatsReport:
    server: ServerFigures
    keyspace: KeyspaceFigures
    nodes: tuple[NodeInfo, ...]
    llm: LLMSummary
    breakdown: Breakdown
    warnings: tuple[StatsWarning, ...]
    partial: bool  # interrupted during the breakdown scan

    @property
    def own_lookups(self) -> tuple[int, int]:
        """(hits, misses) that this report's own reads added to INFO's keyspace figures (Redis
        counts PTTL and HGETALL, not MEMORY USAGE). ``--watch`` subtracts them from the next."""
        return (
            self.breakdown.lookups[0] + self.llm.lookups[0],
            self.breakdown.lookups[1] + self.llm.lookups[1],
        )


def collect_stats(
    handle: RedisHandle,
    *,
    full: bool = False,
    sample: int = DEFAULT_SAMPLE,
    discount: tuple[int, int] = (0, 0),
    on_progress: Progress | None = None,
) -> StatsReport:
    """Everything the dashboard shows; Ctrl-C during the scan returns it ``partial``.

    ``discount``: keyspace hits and misses to take off INFO's, the lookups of earlier reports
    of this process (see ``StatsReport.own_lookups``).
    """
    if sample < 1:
        raise ValueError("sample must be at least 1")
    nodes = serverinfo.gather(handle)
    keyspace = serverinfo.keyspace_figures(nodes)
    keyspace = replace(
        keyspace, hits=max(0, keyspace.hits - discount[0]), misses=max(0, keyspace.misses - discount[1])
    )
    breakdown, partial = _breakdown(handle, nodes, full, sample, on_progress)
    if breakdown.exact and breakdown.counter_keys is not None:
        llm = counters.read_counters(handle, breakdown.counter_keys, exact=True)
    elif breakdown.exact or keyspace.keys <= COUNTER_SCAN_MAX_KEYS:
        llm = counters.scan_counters(handle)
    else:
        seen = [ns.namespace for ns in breakdown.namespaces if ns.data_type is not None]
        llm = counters.lookup_counters(handle, [*DATA_TYPES, *seen])
    server = serverinfo.server_figures(nodes)
    return StatsReport(
        server=server,
        keyspace=keyspace,
        nodes=nodes,
        llm=llm,
        breakdown=breakdown,
        warnings=tuple(find_warnings(server, keyspace, breakdown, llm)),
        partial=partial,
    )


def _breakdown(
    handle: RedisHandle,
    nodes: Sequence[NodeInfo],
    full: bool,
    sample: int,
    on_progress: Progress | None,
) -> tuple[Breakdown, bool]:
    per_node = None if full else max(1, math.ceil(sample / len(handle.nodes)))
    count = SCAN_COUNT if per_node is None else min(SCAN_COUNT, per_node)
    total = NamespaceTally(watch=counters.STATS_PREFIX)
    scanned = vanished = 0
    exact = True
    partial = False
    tally: NamespaceTally | None = None
    try:
        for node, info in zip(handle.nodes, nodes, strict=True):
            tally = NamespaceTally(watch=counters.STATS_PREFIX)
            batches = scan_batches(node, _MEMORY_AND_TTL, count=count, max_keys=per_node)
            with handle.translated(node):
                for batch in batches:
                    vanished += tally.add_batch(batch.keys, batch.replies[0::2], batch.replies[1::2])
                    if on_progress is not None:
                        on_progress(len(batch.keys))
            complete = batches.complete
            scale = 1.0 if complete or not tally.keys else info.keys / tally.keys
            exact = exact and complete
            scanned += tally.keys
            total.merge(tally, scale)
            tally = None
    except KeyboardInterrupt:
        partial = True
        exact = False
        if tally is not None:  # the node being scanned: what it gave so far, not extrapolated
            total.merge(tally)
            scanned += tally.keys
    found = None if total.watched_overflow else tuple(total.watched)
    return Breakdown(exact, scanned, total.rows(), found, (scanned, vanished)), partial


def internal_without_ttl(breakdown: Breakdown, llm: LLMSummary) -> int:
    """llmcache's own keys without a TTL (counter hashes live forever by design)."""
    from_scan = sum(ns.no_ttl_keys for ns in breakdown.namespaces if is_internal_label(ns.namespace))
    return max(from_scan, llm.hashes_without_ttl)


def find_warnings(
    server: ServerFigures, keyspace: KeyspaceFigures, breakdown: Breakdown, llm: LLMSummary
) -> list[StatsWarning]:
    """The findings an operator acts on, most urgent first."""
    out = []
    if server.maxmemory_bytes == 0:
        out.append(
            StatsWarning(
                "no_maxmemory",
                "maxmemory is not set: Redis grows until the host runs out of memory "
                "(set maxmemory and an LRU/LFU policy for a cache)",
            )
        )
    if server.maxmemory_policy not in CACHE_POLICIES:
        out.append(
            StatsWarning(
                "eviction_policy",
                f"maxmemory-policy is {server.maxmemory_policy}: when memory is full "
                + (
                    "writes fail with OOM"
                    if server.maxmemory_policy == "noeviction"
                    else "keys are not evicted by use"
                )
                + " (a cache wants allkeys-lru or allkeys-lfu)",
            )
        )
    leaks = max(0, keyspace.keys_without_ttl - internal_without_ttl(breakdown, llm))
    if leaks:
        out.append(
            StatsWarning(
                "keys_without_ttl",
                f"{leaks} keys have no TTL ({pct(leaks, keyspace.keys)}% of keys): they never expire "
                "(list them with 'llmcache ttl')",
            )
        )
    if keyspace.evicted_keys:
        out.append(
            StatsWarning(
                "evictions",
                f"{keyspace.evicted_keys} keys were evicted since the last stats reset: memory is full "
                "(raise maxmemory or shorten TTLs)",
            )
        )
    ratio, excess = server.mem_fragmentation_ratio, server.mem_fragmentation_bytes
    if ratio is not None and ratio > FRAGMENTATION_RATIO and (excess or 0) > FRAGMENTATION_MIN_BYTES:
        out.append(
            StatsWarning(
                "fragmentation",
                f"memory fragmentation ratio is {ratio:.2f} ({excess} bytes more RSS than data): "
                "consider 'CONFIG SET activedefrag yes'",
            )
        )
    return out
