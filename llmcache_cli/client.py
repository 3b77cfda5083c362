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
from urllib.parse import parse_qsl, urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.cluster
import redis.exceptions as rex
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from llmcache_cli.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    LLMCacheError,
    PermissionDenied,
    ServerError,
    UsageError,
)
from llmcache_cli.urls import DEFAULT_TIMEOUT, ClientOptions, RedisURL

__all__ = [
    "DEFAULT_TIMEOUT",
    "ClientOptions",
    "Node",
    "RedisHandle",
    "async_client",
    "cluster_enabled",
    "connect",
    "translate_error",
]

# Redis Cluster: one more attempt after redis-py refreshes its slot map (a failover moved a
# slot), and none beyond that, so a dead node costs at most about two timeouts, never ten.
# redis-py's own default is 10 retries with backoff; ``cluster_error_retry_attempts`` is
# deprecated in favour of ``retry=``. Each node's own client never retries (redis-py sets that).
CLUSTER_RETRIES = 1


def _client_kwargs(timeout: float, *, asynchronous: bool = False) -> dict[str, Any]:
    # One attempt, no retries: a dead server must answer within the timeout, not 4x it.
    retry_class = redis.asyncio.retry.Retry if asynchronous else Retry
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": retry_class(NoBackoff(), 0),
        "decode_responses": False,
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
    db = url_db(url)
    if db != 0:
        raise UsageError(
            f"{url.redacted} names database {db}, but a Redis Cluster has only database 0",
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
            name = cluster.nodes_manager.get_node_from_slot(key_slot(_as_bytes(key))).name
        for i, node in enumerate(self.nodes):
            if node.name == name:
                return i
        raise ServerError(
            f"the Redis Cluster at {self.url.redacted} changed while llmcache ran: slot of "
            f"{_as_bytes(key).decode('utf-8', 'backslashreplace')!r} is now served by {name}",
            hint="rerun the command",
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def __enter__(self) -> RedisHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def url_db(url: RedisURL) -> int:
    """The database number a (validated) URL names."""
    parts = urlsplit(url.url)
    query = dict(parse_qsl(parts.query))
    text = query.get("db", "0") if url.scheme == "unix" else parts.path.lstrip("/") or query.get("db", "0")
    return int(text)


def _as_bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode("utf-8")


def cluster_enabled(info: Any) -> bool | None:
    """What an ``INFO cluster`` or ``CLUSTER INFO`` reply (or error) says: True, False, or None
    when it cannot tell (the command was refused by an ACL)."""
    if _refused(info):
        return None
    if isinstance(info, rex.ResponseError):
        return False  # "cluster support disabled" (CLUSTER INFO), or a server without it
    if isinstance(info, (bytes, str)):  # CLUSTER INFO through a plain client: unparsed text
        info = _parse_info_text(info if isinstance(info, bytes) else info.encode())
    if isinstance(info, dict):
        if "cluster_enabled" in info:  # INFO cluster
            return bool(info["cluster_enabled"])
        return "cluster_state" in info  # CLUSTER INFO answered: a cluster node
    return False


def _refused(reply: Any) -> bool:
    return isinstance(reply, rex.NoPermissionError) or (
        isinstance(reply, rex.ResponseError) and str(reply).startswith("NOPERM")
    )


DETECT_COMMANDS = (("INFO", "cluster"), ("CLUSTER", "INFO"))
# Last resort when an ACL refuses INFO and CLUSTER (e.g. ``-@dangerous``): EXISTS (``@read``) on
# keys spread over the 16384 hash slots. A cluster node answers MOVED for the slots it does not
# serve, so a node that serves only part of the cluster is found out; one that serves every
# slot is, for scanning, the whole data set anyway.
PROBE_RANGES = 32


def _probe_keys() -> list[bytes]:
    width = 16384 // PROBE_RANGES
    found: dict[int, bytes] = {}
    n = 0
    while len(found) < PROBE_RANGES:
        key = f"llmcache:cluster-probe:{n}".encode()
        found.setdefault(key_slot(key) // width, key)
        n += 1
    return [found[i] for i in sorted(found)]


def _moved(replies: list[Any]) -> bool | None:
    if any(isinstance(r, rex.MovedError) or str(r).startswith("MOVED") for r in replies):
        return True
    if any(_refused(r) for r in replies):
        return None
    return False


def detect_cluster(client: redis.Redis, where: str = "this server") -> bool:
    """``INFO cluster``; if an ACL refuses INFO, ``CLUSTER INFO``; if that is refused too, the
    EXISTS probe. Guessing "single server" on a cluster would scan one node and miss the rest,
    so when nothing can tell it is an error."""
    for command in DETECT_COMMANDS:
        try:
            reply: Any = client.execute_command(*command)
        except rex.ResponseError as exc:
            reply = exc
        found = cluster_enabled(reply)
        if found is not None:
            return found
    pipe = client.pipeline(transaction=False)
    for key in _probe_keys():
        pipe.exists(key)
    found = _moved(pipe.execute(raise_on_error=False))
    if found is not None:
        return found
    raise PermissionDenied(
        f"cannot tell whether {where} is a Redis Cluster: INFO, CLUSTER INFO and EXISTS are refused",
        hint="pass --cluster or --no-cluster, or allow INFO for this ACL user",
    )


async def detect_cluster_async(client: redis.asyncio.Redis) -> bool | None:
    """``detect_cluster`` for the library: None when nothing can tell (the library then
    assumes a single server and says so in a warning rather than failing)."""
    for command in DETECT_COMMANDS:
        try:
            reply: Any = await client.execute_command(*command)
        except rex.ResponseError as exc:
            reply = exc
        found = cluster_enabled(reply)
        if found is not None:
            return found
    pipe = client.pipeline(transaction=False)
    for key in _probe_keys():
        pipe.exists(key)
    return _moved(list(await pipe.execute(raise_on_error=False)))


def _parse_info_text(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip()] = value.strip()
    return out


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
        if _refused(exc):
            raise  # NOPERM: translated into a permission error that names the command
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
