"""The dashboard's warnings: the findings an operator acts on, most urgent first.

On a single server each rule looks at the server's figures. In a cluster the rules about one
server's configuration and health (maxmemory, eviction policy, evictions, fragmentation) are
checked on every primary and each warning names its node; a summed figure would hide a node
that differs (one primary without maxmemory, one evicting). Keys without TTL are counted over
the whole keyspace; a replica that did not answer is a warning of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmcache_cli.diagnostics.common import Breakdown, is_internal_label, pct
from llmcache_cli.diagnostics.live_counters import LLMSummary
from llmcache_cli.diagnostics.serverinfo import KeyspaceFigures, NodeInfo, ServerFigures, UnreachableNode

CACHE_POLICIES = ("allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu")
FRAGMENTATION_RATIO = 1.5
FRAGMENTATION_MIN_BYTES = 64 * 1024 * 1024  # below this the ratio of a small instance means nothing
CODES = (
    "no_maxmemory",
    "eviction_policy",
    "keys_without_ttl",
    "evictions",
    "fragmentation",
    "node_unreachable",
)


@dataclass(frozen=True)
class StatsWarning:
    code: str  # stable: one of CODES
    message: str
    node: str | None = None  # the node it concerns (a cluster's); None: the whole server or cluster

    @property
    def detail(self) -> str:
        """The message without its ``node ...:`` prefix (to word one finding on several nodes)."""
        prefix = f"node {self.node}: "
        return self.message[len(prefix) :] if self.node and self.message.startswith(prefix) else self.message


@dataclass(frozen=True)
class _Scope:
    """The figures one configuration rule looks at: one server, or one primary of a cluster."""

    node: str | None
    maxmemory_bytes: int
    maxmemory_policy: str
    evicted_keys: int
    fragmentation_ratio: float | None
    fragmentation_bytes: int | None

    @property
    def prefix(self) -> str:
        return f"node {self.node}: " if self.node else ""


def _scopes(server: ServerFigures, keyspace: KeyspaceFigures, nodes: Sequence[NodeInfo]) -> list[_Scope]:
    if len(nodes) <= 1:
        return [
            _Scope(
                None,
                server.maxmemory_bytes,
                server.maxmemory_policy,
                keyspace.evicted_keys,
                server.mem_fragmentation_ratio,
                server.mem_fragmentation_bytes,
            )
        ]
    return [
        _Scope(
            n.name,
            n.maxmemory_bytes,
            n.maxmemory_policy,
            n.evicted_keys,
            n.mem_fragmentation_ratio,
            n.mem_fragmentation_bytes,
        )
        for n in nodes
    ]


def internal_without_ttl(breakdown: Breakdown, llm: LLMSummary) -> int:
    """llmcache's own keys without a TTL (counter hashes live forever by design)."""
    from_scan = sum(ns.no_ttl_keys for ns in breakdown.namespaces if is_internal_label(ns.namespace))
    return max(from_scan, llm.hashes_without_ttl)


def other_without_ttl(breakdown: Breakdown) -> int:
    """Keys outside the cache's namespaces without a TTL: not the cache's to judge (estimated
    when the breakdown is a sample)."""
    return sum(ns.no_ttl_keys for ns in breakdown.namespaces if ns.kind == "other")


def find_warnings(
    server: ServerFigures,
    keyspace: KeyspaceFigures,
    breakdown: Breakdown,
    llm: LLMSummary,
    nodes: Sequence[NodeInfo] = (),
    unreachable: Sequence[UnreachableNode] = (),
) -> list[StatsWarning]:
    """The findings an operator acts on, most urgent first; per primary when ``nodes`` are
    several (a cluster)."""
    scopes = _scopes(server, keyspace, nodes)
    out = []
    for s in scopes:
        if s.maxmemory_bytes == 0:
            out.append(
                StatsWarning(
                    "no_maxmemory",
                    f"{s.prefix}maxmemory is not set: Redis grows until the host runs out of memory "
                    "(set maxmemory and an LRU/LFU policy for a cache)",
                    s.node,
                )
            )
    for s in scopes:
        if s.maxmemory_policy not in CACHE_POLICIES:
            outcome = (
                "writes fail with OOM"
                if s.maxmemory_policy == "noeviction"
                else "keys are not evicted by use"
            )
            out.append(
                StatsWarning(
                    "eviction_policy",
                    f"{s.prefix}maxmemory-policy is {s.maxmemory_policy}: when memory is full {outcome} "
                    "(a cache wants allkeys-lru or allkeys-lfu)",
                    s.node,
                )
            )
    apart = internal_without_ttl(breakdown, llm) + other_without_ttl(breakdown)
    leaks = max(0, keyspace.keys_without_ttl - apart)
    if leaks:
        what = "entry has" if leaks == 1 else "entries have"
        out.append(
            StatsWarning(
                "keys_without_ttl",
                f"{leaks:,} {what} no TTL ({pct(leaks, keyspace.keys)}% of keys): they never expire "
                "(list them with 'llmcache ttl')",
            )
        )
    for s in scopes:
        if s.evicted_keys:
            were = "key was" if s.evicted_keys == 1 else "keys were"
            out.append(
                StatsWarning(
                    "evictions",
                    f"{s.prefix}{s.evicted_keys:,} {were} evicted since the last stats reset: memory is "
                    "full (raise maxmemory or shorten TTLs)",
                    s.node,
                )
            )
    for s in scopes:
        ratio, excess = s.fragmentation_ratio, s.fragmentation_bytes
        if ratio is not None and ratio > FRAGMENTATION_RATIO and (excess or 0) > FRAGMENTATION_MIN_BYTES:
            out.append(
                StatsWarning(
                    "fragmentation",
                    f"{s.prefix}memory fragmentation ratio is {ratio:.2f} ({excess} bytes more RSS than "
                    "data): consider 'CONFIG SET activedefrag yes'",
                    s.node,
                )
            )
    for node in unreachable:
        out.append(
            StatsWarning(
                "node_unreachable",
                f"{node.role} {node.name} did not answer, so it is not in the node table: {node.error}",
                node.name,
            )
        )
    return out
