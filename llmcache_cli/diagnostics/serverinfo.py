"""Server and keyspace figures from ``INFO`` and ``DBSIZE``, per node and summed.

In a cluster every primary is asked; counts and memory are summed, and the per-node figures are
kept so the dashboard can show where the keys and the memory are. The replicas are asked too, for
the per-node table only (their keys are copies: never summed); a replica that does not answer is
reported, not fatal, while a primary that does not answer is an error (no total without it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcache_cli.client import Node, RedisHandle, detect_features
from llmcache_cli.errors import RedisOperationError

PRIMARY = "primary"
REPLICA = "replica"


@dataclass(frozen=True)
class NodeInfo:
    name: str
    role: str  # PRIMARY or REPLICA
    primary: str | None  # a replica's primary, as host:port (INFO replication)
    product: str  # "redis" or "valkey" (see server_identity)
    version: str  # the product's own version (Valkey's, not its Redis-compatibility string)
    mode: str  # standalone, cluster, sentinel
    uptime_seconds: int
    used_memory_bytes: int
    used_memory_peak_bytes: int
    used_memory_rss_bytes: int
    maxmemory_bytes: int  # 0: no limit
    maxmemory_policy: str
    mem_fragmentation_ratio: float | None
    mem_fragmentation_bytes: int | None
    connected_clients: int
    ops_per_sec: int
    keys: int  # DBSIZE
    keys_with_ttl: int  # INFO keyspace "expires" of this database
    hits: int
    misses: int
    evicted_keys: int
    expired_keys: int
    run_id: str = ""  # this server process (INFO server): a restart changes it

    @property
    def hit_rate(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass(frozen=True)
class UnreachableNode:
    name: str
    role: str
    error: str  # redacted, one line


@dataclass(frozen=True)
class ServerFigures:
    product: str  # "redis", "valkey", or "redis, valkey" when the nodes differ
    version: str
    mode: str
    nodes: int
    uptime_seconds: int
    used_memory_bytes: int
    used_memory_peak_bytes: int
    used_memory_rss_bytes: int
    maxmemory_bytes: int  # 0: at least one node has no limit
    maxmemory_policy: str  # "mixed" when the nodes disagree
    mem_fragmentation_ratio: float | None
    mem_fragmentation_bytes: int | None
    connected_clients: int
    ops_per_sec: int
    # newer-server features by name (llmcache_cli.features): True, False, None (cannot tell)
    features: Mapping[str, bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyspaceFigures:
    keys: int
    keys_with_ttl: int
    hits: int
    misses: int
    evicted_keys: int
    expired_keys: int

    @property
    def keys_without_ttl(self) -> int:
        return max(0, self.keys - self.keys_with_ttl)

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups as a fraction; None when there were neither hits nor misses."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


def _int(info: Mapping[str, Any], name: str) -> int:
    value = info.get(name, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(info: Mapping[str, Any], name: str) -> float | None:
    value = info.get(name)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _text(info: Mapping[str, Any], name: str, default: str = "unknown") -> str:
    value = info.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return default if value is None else str(value)


def server_identity(info: Mapping[str, Any]) -> tuple[str, str, str]:
    """(product, its own version, mode) from ``INFO server``, for Redis and Valkey alike.

    Valkey keeps ``redis_version`` at the Redis release it is compatible with (7.2.4) and gives
    its own in ``valkey_version`` and ``server_name``; it says ``server_mode`` where Redis says
    ``redis_mode`` (Valkey 8 has both).
    """
    name = _text(info, "server_name", "").lower()
    if "valkey_version" in info or name == "valkey":
        product, version = "valkey", _text(info, "valkey_version", _text(info, "redis_version"))
    else:
        product, version = name or "redis", _text(info, "redis_version")
    mode = _text(info, "server_mode", _text(info, "redis_mode", "standalone"))
    return product, version, mode


def database_of(node: Node) -> int:
    return int(node.client.connection_pool.connection_kwargs.get("db", 0) or 0)


def node_info(node: Node) -> NodeInfo:
    """One ``INFO`` (default sections) and one ``DBSIZE``, in one round trip."""
    pipe = node.client.pipeline(transaction=False)
    pipe.info()
    pipe.dbsize()
    info, dbsize = pipe.execute()
    db = info.get(f"db{database_of(node)}", {})
    expires = int(db.get("expires", 0)) if isinstance(db, Mapping) else 0
    frag_bytes = info.get("mem_fragmentation_bytes")
    replica = _text(info, "role", "master") == "slave"
    primary = f"{_text(info, 'master_host')}:{_int(info, 'master_port')}" if replica else None
    product, version, mode = server_identity(info)
    return NodeInfo(
        name=node.name,
        role=REPLICA if replica else PRIMARY,
        primary=primary,
        product=product,
        version=version,
        mode=mode,
        uptime_seconds=_int(info, "uptime_in_seconds"),
        used_memory_bytes=_int(info, "used_memory"),
        used_memory_peak_bytes=_int(info, "used_memory_peak"),
        used_memory_rss_bytes=_int(info, "used_memory_rss"),
        maxmemory_bytes=_int(info, "maxmemory"),
        maxmemory_policy=_text(info, "maxmemory_policy"),
        mem_fragmentation_ratio=_float(info, "mem_fragmentation_ratio"),
        mem_fragmentation_bytes=None if frag_bytes is None else _int(info, "mem_fragmentation_bytes"),
        connected_clients=_int(info, "connected_clients"),
        ops_per_sec=_int(info, "instantaneous_ops_per_sec"),
        keys=int(dbsize),
        keys_with_ttl=expires,
        hits=_int(info, "keyspace_hits"),
        misses=_int(info, "keyspace_misses"),
        evicted_keys=_int(info, "evicted_keys"),
        expired_keys=_int(info, "expired_keys"),
        run_id=_text(info, "run_id", ""),
    )


def gather(handle: RedisHandle) -> tuple[NodeInfo, ...]:
    """The primaries (the single server), in ``handle.nodes`` order; any failure is raised."""
    out = []
    for node in handle.nodes:
        with handle.translated(node):
            out.append(node_info(node))
    return tuple(out)


def gather_replicas(handle: RedisHandle) -> tuple[tuple[NodeInfo, ...], tuple[UnreachableNode, ...]]:
    """A cluster's replicas that answered, and those that did not (with the reason)."""
    found, missing = [], []
    for node in handle.replicas():
        try:
            with handle.translated(node):
                found.append(node_info(node))
        except RedisOperationError as exc:
            missing.append(UnreachableNode(node.name, REPLICA, exc.message))
    order = {node.name: i for i, node in enumerate(handle.nodes)}  # each under its primary's rank
    found.sort(key=lambda n: (order.get(n.primary or "", len(order)), n.name))
    return tuple(found), tuple(missing)


def features(handle: RedisHandle) -> Mapping[str, bool | None]:
    """What the first primary can do beyond the oldest supported server (see features.py)."""
    node = handle.nodes[0]
    with handle.translated(node):
        return detect_features(node.client).present


def server_figures(
    nodes: Sequence[NodeInfo], found: Mapping[str, bool | None] | None = None
) -> ServerFigures:
    used = sum(n.used_memory_bytes for n in nodes)
    rss = sum(n.used_memory_rss_bytes for n in nodes)
    policies = {n.maxmemory_policy for n in nodes}
    products = sorted({n.product for n in nodes})
    versions = sorted({n.version for n in nodes})
    ratios = [n.mem_fragmentation_ratio for n in nodes]
    frag_bytes = [n.mem_fragmentation_bytes for n in nodes]
    ratio = ratios[0] if len(nodes) == 1 else round(rss / used, 2) if used and None not in ratios else None
    return ServerFigures(
        product=", ".join(products),
        version=", ".join(versions),
        mode=nodes[0].mode if len({n.mode for n in nodes}) == 1 else "mixed",
        nodes=len(nodes),
        uptime_seconds=min(n.uptime_seconds for n in nodes),
        used_memory_bytes=used,
        used_memory_peak_bytes=sum(n.used_memory_peak_bytes for n in nodes),
        used_memory_rss_bytes=rss,
        maxmemory_bytes=0
        if any(n.maxmemory_bytes == 0 for n in nodes)
        else sum(n.maxmemory_bytes for n in nodes),
        maxmemory_policy=policies.pop() if len(policies) == 1 else "mixed",
        mem_fragmentation_ratio=ratio,
        mem_fragmentation_bytes=None if None in frag_bytes else sum(b or 0 for b in frag_bytes),
        connected_clients=sum(n.connected_clients for n in nodes),
        ops_per_sec=sum(n.ops_per_sec for n in nodes),
        features=dict(found or {}),
    )


def keyspace_figures(nodes: Sequence[NodeInfo]) -> KeyspaceFigures:
    return KeyspaceFigures(
        keys=sum(n.keys for n in nodes),
        keys_with_ttl=sum(n.keys_with_ttl for n in nodes),
        hits=sum(n.hits for n in nodes),
        misses=sum(n.misses for n in nodes),
        evicted_keys=sum(n.evicted_keys for n in nodes),
        expired_keys=sum(n.expired_keys for n in nodes),
    )
