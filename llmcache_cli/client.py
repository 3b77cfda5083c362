"""The one place that builds Redis clients (SPEC section 1).

Commands and the library never call ``redis.Redis(...)`` themselves: they ask this module for a
``RedisHandle`` (sync, for the CLI) or an asyncio client (for ``CacheService``). It owns
timeouts, TLS, cluster detection and the translation of redis-py errors into the project's own
exceptions, each with a redacted URL and a hint.
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
import redis.cluster
import redis.exceptions as rex
from redis.backoff import NoBackoff
from redis.retry import Retry

from llmcache_cli.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    LLMCacheError,
    PermissionDenied,
    ServerError,
)
from llmcache_cli.urls import DEFAULT_TIMEOUT, ClientOptions, RedisURL

__all__ = [
    "DEFAULT_TIMEOUT",
    "ClientOptions",
    "Node",
    "RedisHandle",
    "async_client",
    "connect",
    "translate_error",
]


def _client_kwargs(timeout: float) -> dict[str, Any]:
    # One attempt, no retries: a dead server must answer within the timeout, not 4x it.
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": False,
    }


def translate_error(
    exc: BaseException, url: RedisURL, timeout: float | None = None, node: str | None = None
) -> LLMCacheError:
    """Map a redis-py (or socket) error to the project's exceptions, redacted, with a hint."""
    redact = url.redactor()
    where = url.redacted + (f" (node {node})" if node else "")
    text = redact(str(exc).strip() or type(exc).__name__)
    if isinstance(exc, LLMCacheError):
        return exc
    if isinstance(exc, rex.NoPermissionError) or text.startswith("NOPERM"):
        return PermissionDenied(
            f"permission denied at {where}: {text}",
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
    if isinstance(exc, (rex.RedisError, rex.RedisClusterException)):
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

    @property
    def url(self) -> RedisURL:
        return self.options.url

    def translated(self, node: Node | None = None) -> contextlib.AbstractContextManager[None]:
        return translated(self.url, self.options.timeout, node.name if node and self.is_cluster else None)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def __enter__(self) -> RedisHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detect_cluster(client: redis.Redis) -> bool:
    try:
        info = client.info("cluster")
    except rex.ResponseError:
        return False  # INFO cluster refused (old server or ACL): treat as a single node
    return bool(info.get("cluster_enabled"))


def connect(options: ClientOptions) -> RedisHandle:
    """Connect (one PING), detect a cluster unless told, and return a handle."""
    kwargs = _client_kwargs(options.timeout)
    with translated(options.url, options.timeout):
        single = redis.Redis.from_url(options.url.url, **kwargs)
        try:
            single.ping()
            is_cluster = detect_cluster(single) if options.cluster is None else options.cluster
        except BaseException:
            single.close()
            raise
        if not is_cluster:
            return RedisHandle(options, single, False, [Node(_node_name(single), single)])
        single.close()
        cluster = redis.cluster.RedisCluster.from_url(options.url.url, **_cluster_kwargs(kwargs))
        nodes = [Node(f"{n.host}:{n.port}", n.redis_connection) for n in cluster.get_primaries()]
        return RedisHandle(options, cluster, True, nodes)


def _cluster_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    # One retry lets RedisCluster refresh its slot map after a failover; no backoff sleeps.
    out["retry"] = Retry(NoBackoff(), 1)
    return out


def _node_name(client: redis.Redis) -> str:
    kw = client.connection_pool.connection_kwargs
    if kw.get("path"):
        return str(kw["path"])
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}"


def async_client(options: ClientOptions, max_connections: int = 50) -> redis.asyncio.Redis:
    """An asyncio client for the library: bounded pool, short timeouts, no retries.

    Cluster URLs get ``redis.asyncio.cluster.RedisCluster`` (``options.cluster`` True).
    """
    kwargs = _client_kwargs(options.timeout)
    if options.cluster:
        return redis.asyncio.cluster.RedisCluster.from_url(  # type: ignore[return-value]
            options.url.url, **_cluster_kwargs(kwargs), max_connections=max_connections
        )
    return redis.asyncio.Redis.from_url(options.url.url, max_connections=max_connections, **kwargs)
