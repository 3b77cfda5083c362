"""The one place that builds Redis clients.

Commands and the library never call ``redis.Redis(...)`` themselves: they ask this module for a
``RedisHandle`` (sync, for the CLI) or an asyncio client (for ``CacheService``). It owns
timeouts, TLS, cluster detection (the rules live in ``cluster``), what a server can do beyond
the oldest supported one (``detect_features``; the rules live in ``features``) and the
translation of redis-py errors into the project's own exceptions, each with a redacted URL and
a hint. It works the same on Redis 6.2, 7.x and Valkey 8.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.cluster
import redis.exceptions as rex
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from llmcache_cli.cluster import (
    cluster_enabled,
    detect_cluster,
    detect_cluster_async,
    refused,
    replica_addresses,
)
from llmcache_cli.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    LLMCacheError,
    PermissionDenied,
    ServerError,
    UsageError,
)
from llmcache_cli.features import FEATURES, ServerFeatures, detect_features
from llmcache_cli.keys import key_bytes, key_text
from llmcache_cli.urls import DEFAULT_TIMEOUT, ClientOptions, RedisURL

__all__ = [
    "DEFAULT_TIMEOUT",
    "FEATURES",
    "ClientOptions",
    "Node",
    "RedisHandle",
    "ServerFeatures",
    "async_client",
    "cluster_enabled",
    "connect",
    "detect_cluster_async",
    "detect_features",
    "translate_error",
]

# Redis Cluster: one more attempt after redis-py refreshes its slot map (a failover moved a
# slot), and none beyond that, so a dead node costs at most about two timeouts, never ten.
# redis-py's own default is 10 retries with backoff; ``cluster_error_retry_attempts`` is
# deprecated in favour of ``retry=``. Each node's own client never retries (redis-py sets that).
CLUSTER_RETRIES = 1


def quiet_handshake() -> dict[str, Any]:
    """Connection kwargs that keep redis-py's connection handshake to ``HELLO``/``AUTH``.

    On every new connection redis-py also sends ``CLIENT SETINFO`` (to label the connection)
    and, with RESP3, ``CLIENT MAINT_NOTIFICATIONS`` (redis-py 7+), and ignores a refusal. An
    ACL user without ``client`` then leaves a violation per connection in ``ACL LOG``: both on
    Redis 6.2 (it has no subcommand table, so any CLIENT is checked against the ACL), SETINFO
    on 7.2+ and Valkey. Not sending them keeps the documented ACL rules minimal and the log
    empty; llmcache needs neither. Older redis-py has neither ``driver_info`` (7.1+) nor the
    notifications, and takes ``lib_name``/``lib_version`` (deprecated since) instead.
    """
    kwargs: dict[str, Any] = {}
    try:
        import redis.driver_info  # noqa: F401
    except ImportError:
        kwargs.update(lib_name=None, lib_version=None)
    else:
        kwargs["driver_info"] = None
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:
        pass
    else:
        kwargs["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    return kwargs


def _client_kwargs(timeout: float, *, asynchronous: bool = False) -> dict[str, Any]:
    # One attempt, no retries: a dead server must answer within the timeout, not 4x it.
    retry_class = redis.asyncio.retry.Retry if asynchronous else Retry
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": retry_class(NoBackoff(), 0),
        "decode_responses": False,
        **quiet_handshake(),
    }


def _cluster_kwargs(timeout: float, *, asynchronous: bool = False) -> dict[str, Any]:
    kwargs = _client_kwargs(timeout, asynchronous=asynchronous)
    retry_class = redis.asyncio.retry.Retry if asynchronous else Retry
    kwargs["retry"] = retry_class(NoBackoff(), CLUSTER_RETRIES)
    return kwargs


def check_cluster_url(url: RedisURL) -> None:
    """A URL a cluster client cannot use is a usage error (exit 2), said before connecting."""
    if url.scheme == "unix":
        raise UsageError(
            f"Redis Cluster mode needs a TCP URL, got {url.redacted}",
            hint="use redis://host:port (or rediss://) of any cluster node, or pass --no-cluster",
        )
    if url.db != 0:
        raise UsageError(
            f"{url.redacted} names database {url.db}, but a Redis Cluster has only database 0",
            hint="use database 0: end the URL with /0, or name no database",
        )


def translate_error(
    exc: BaseException, url: RedisURL, timeout: float | None = None, node: str | None = None
) -> LLMCacheError:
    """Map a redis-py (or socket) error to the project's exceptions, redacted, with a hint."""
    redact = url.redactor()
    where = url.redacted + (f" (node {node})" if node else "")
    text = redact(str(exc).strip() or type(exc).__name__)
    if isinstance(exc, LLMCacheError):
        return exc
    if isinstance(exc, rex.ClusterDownError) or text.startswith("CLUSTERDOWN"):
        return ServerError(
            f"Redis Cluster at {where} is down: {text}",
            hint="a primary failed and no replica took over; see CLUSTER INFO on a node",
        )
    if isinstance(exc, rex.NoPermissionError) or text.startswith("NOPERM"):
        return PermissionDenied(
            f"permission denied for ACL user {url.username or 'default'!r} at {where}: {text}",
            hint="the ACL user lacks a command llmcache needs; see the README's ACL section",
        )
    if isinstance(
        exc, (rex.AuthenticationError, rex.AuthenticationWrongNumberOfArgsError)
    ) or text.startswith(("NOAUTH", "WRONGPASS", "invalid username-password")):
        return AuthenticationFailed(
            f"authentication failed at {where}: {text}", hint="check the user and password in the URL"
        )
    if isinstance(exc, rex.BusyLoadingError):
        return ServerError(f"Redis at {where} is loading its data set", hint="retry in a moment")
    if isinstance(exc, (rex.TimeoutError, socket.timeout, TimeoutError)):
        limit = f" within {timeout:g}s" if timeout else ""
        return ConnectionFailed(
            f"Redis at {where} did not answer{limit}",
            hint="is the server overloaded or firewalled? raise --timeout to wait longer",
        )
    if isinstance(exc, (rex.ConnectionError, ConnectionError, OSError)):
        hint = "is redis-server running there? right host and port? TLS needs rediss://"
        if node:
            hint = (
                f"is cluster node {node} up, and reachable from here at the address the cluster "
                "announces (cluster-announce-ip)?"
            )
        if isinstance(exc, ssl.SSLError) or "SSL" in text or "certificate" in text.lower():
            hint = "TLS handshake failed: check rediss://, the server certificate and its CA"
        return ConnectionFailed(f"cannot connect to Redis at {where}: {text}", hint=hint)
    if isinstance(exc, rex.ReadOnlyError):
        return ServerError(
            f"Redis at {where} is a read-only replica: {text}", hint="point --url at the primary"
        )
    if isinstance(exc, rex.OutOfMemoryError):
        return ServerError(
            f"Redis at {where} is out of memory: {text}", hint="maxmemory reached with a noeviction policy"
        )
    if isinstance(exc, rex.RedisClusterException):
        return ServerError(
            f"Redis Cluster error at {where}: {text}",
            hint="is every slot served? see CLUSTER INFO; --no-cluster talks to one node only",
        )
    if isinstance(exc, rex.RedisError):
        return ServerError(f"Redis error at {where}: {text}")
    raise exc


@contextlib.contextmanager
def translated(url: RedisURL, timeout: float | None = None, node: str | None = None) -> Iterator[None]:
    """Run a block, turning redis-py errors into project exceptions."""
    try:
        yield
    except (rex.RedisError, rex.RedisClusterException, OSError) as exc:
        raise translate_error(exc, url, timeout, node) from None


@dataclass
class Node:
    """One primary (or the single server): a plain client plus a name that is safe to print."""

    name: str
    client: redis.Redis


@dataclass
class RedisHandle:
    """A connected sync client. ``nodes`` are the primaries to scan (one when not a cluster)."""

    options: ClientOptions
    client: redis.Redis | redis.cluster.RedisCluster
    is_cluster: bool
    nodes: list[Node] = field(default_factory=list)
    _extra: dict[str, redis.Redis] = field(default_factory=dict, repr=False)  # clients made here
    # Key lookups made through this handle that Redis counts in INFO keyspace_hits/misses, per
    # index into ``nodes``: [hits, misses]. diagnostics/own_reads.py keeps them out of reports.
    lookups: dict[int, list[int]] = field(default_factory=dict, repr=False)

    def count_lookups(self, node: int, hits: int, misses: int = 0) -> None:
        row = self.lookups.setdefault(node, [0, 0])
        row[0] += hits
        row[1] += misses

    def count_key_lookups(self, key: str | bytes, hits: int, misses: int = 0) -> None:
        """Lookups of one key, on the node that holds it."""
        self.count_lookups(self.node_index(key) if self.is_cluster else 0, hits, misses)

    @property
    def url(self) -> RedisURL:
        return self.options.url

    def translated(self, node: Node | None = None) -> contextlib.AbstractContextManager[None]:
        return translated(self.url, self.options.timeout, node.name if node and self.is_cluster else None)

    def node_index(self, key: str | bytes) -> int:
        """Which of ``nodes`` holds ``key`` (its hash slot's primary); 0 when not a cluster.

        Uses redis-py's slot map from connect time. A primary that is not among ``nodes``
        (a failover since then) is a server error: rerunning the command reconnects.
        """
        if not self.is_cluster:
            return 0
        cluster = self.client
        assert isinstance(cluster, redis.cluster.RedisCluster)
        with self.translated():
            name = cluster.nodes_manager.get_node_from_slot(key_slot(key_bytes(key))).name
        for i, node in enumerate(self.nodes):
            if node.name == name:
                return i
        raise ServerError(
            f"the Redis Cluster at {self.url.redacted} changed while llmcache ran: slot of "
            f"{key_text(key)!r} is now served by {name}",
            hint="rerun the command",
        )

    def replicas(self) -> list[Node]:
        """A cluster's replicas, as ``CLUSTER NODES`` lists them (also those still syncing or
        failed, which redis-py's slot map leaves out); the slot map's when that is refused.
        None for a single server: llmcache talks to the server the URL names, not its replicas."""
        if not self.is_cluster:
            return []
        cluster = self.client
        assert isinstance(cluster, redis.cluster.RedisCluster)
        try:
            with self.translated(self.nodes[0]):
                addresses = replica_addresses(self.nodes[0].client.execute_command("CLUSTER NODES"))
        except LLMCacheError:  # e.g. an ACL without CLUSTER NODES
            addresses = [(n.host, n.port) for n in cluster.get_replicas()]
        out = []
        for host, port in addresses:
            name = f"{host}:{port}"
            known = cluster.get_node(host=host, port=port)
            client = known.redis_connection if known is not None else self._extra.get(name)
            if client is None:  # not in redis-py's slot map (yet): a client of our own, kept
                manager = cluster.nodes_manager
                client = manager.create_redis_node(host=host, port=port, **manager.connection_kwargs)
                self._extra[name] = client
            out.append(Node(name, client))
        return out

    def close(self) -> None:
        for client in [*self._extra.values(), self.client]:
            with contextlib.suppress(Exception):
                client.close()

    def __enter__(self) -> RedisHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(options: ClientOptions) -> RedisHandle:
    """Connect (one PING), detect a cluster unless told, and return a handle."""
    if options.cluster:
        check_cluster_url(options.url)
    with translated(options.url, options.timeout):
        single = redis.Redis.from_url(options.url.url, **_client_kwargs(options.timeout))
        try:
            single.ping()
            found = options.cluster
            is_cluster = detect_cluster(single, options.url.redacted) if found is None else found
            if is_cluster:
                cluster = _cluster_client(options, single)
        except BaseException as exc:
            single.close()
            if isinstance(exc, rex.ResponseError) and "SELECT is not allowed in cluster mode" in str(exc):
                check_cluster_url(options.url)  # a cluster node refused /N: say so plainly
            raise
        if not is_cluster:
            return RedisHandle(options, single, False, [Node(_node_name(single), single)])
        single.close()
        nodes = [Node(f"{n.host}:{n.port}", n.redis_connection) for n in cluster.get_primaries()]
        return RedisHandle(options, cluster, True, nodes)


def _cluster_client(options: ClientOptions, single: redis.Redis) -> redis.cluster.RedisCluster:
    """redis-py's RedisCluster (it maps the slots with CLUSTER SLOTS and routes every command)."""
    check_cluster_url(options.url)
    try:
        return redis.cluster.RedisCluster.from_url(options.url.url, **_cluster_kwargs(options.timeout))
    except rex.RedisClusterException as exc:
        if "not enabled" not in str(exc):
            raise
        failed = exc
    # redis-py says "cluster mode is not enabled" whatever CLUSTER SLOTS answered: ask again.
    try:
        single.execute_command("CLUSTER", "SLOTS")
    except rex.ResponseError as exc:
        if refused(exc):  # NOPERM: translated into a permission error that names the command
            if "cluster|slots" in str(exc):
                raise
            # Redis 6.2 names only "cluster": say which subcommand
            raise rex.NoPermissionError(f"{exc} (CLUSTER SLOTS: grant +cluster|slots)") from None
        if options.cluster:
            raise UsageError(
                f"--cluster was given, but {options.url.redacted} is not a Redis Cluster node",
                hint="drop --cluster (llmcache detects a cluster by itself)",
            ) from None
    raise failed


def _node_name(client: redis.Redis) -> str:
    kw = client.connection_pool.connection_kwargs
    if kw.get("path"):
        return str(kw["path"])
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}"


def async_client(options: ClientOptions, max_connections: int = 50) -> redis.asyncio.Redis:
    """An asyncio client for the library: bounded pool, short timeouts, no retries.

    Cluster URLs get ``redis.asyncio.cluster.RedisCluster`` (``options.cluster`` True).
    """
    if options.cluster:
        check_cluster_url(options.url)
        return redis.asyncio.cluster.RedisCluster.from_url(  # type: ignore[return-value]
            options.url.url,
            **_cluster_kwargs(options.timeout, asynchronous=True),
            max_connections=max_connections,
        )
    kwargs = _client_kwargs(options.timeout, asynchronous=True)
    return redis.asyncio.Redis.from_url(options.url.url, max_connections=max_connections, **kwargs)
