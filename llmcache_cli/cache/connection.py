"""The service's link to Redis: one lazily made asyncio client, guarded by the circuit breaker.

``Link.run(what, op)`` is the only way the service talks to Redis. It bounds concurrency to the
pool size (so the pool never runs dry), refuses at once while the breaker is open, caps every
operation at a hard deadline, and turns every failure into ``FAILED`` after logging it with the
URL redacted. It never raises a Redis error to the caller.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio
import redis.exceptions as rex

from llmcache_cli.cache.breaker import CircuitBreaker
from llmcache_cli.cache.capabilities import PROBE_KEY, Capabilities
from llmcache_cli.cache.scripts import SCRIPTS
from llmcache_cli.cache.wire import Wire, open_wire
from llmcache_cli.client import ClientOptions, async_client, detect_cluster_async, translate_error

log = logging.getLogger("llmcache_cli.cache")
T = TypeVar("T")


class _Failed:
    def __repr__(self) -> str:
        return "FAILED"

    def __bool__(self) -> bool:
        return False


FAILED: Any = _Failed()


class _Skipped(Exception):
    """Queued behind a connection probe that just failed: give up without trying."""


_UNREACHABLE = (rex.ConnectionError, OSError)  # includes refused, reset, builtin TimeoutError
_TIMED_OUT = (rex.TimeoutError, asyncio.TimeoutError, TimeoutError)
_LOG_REPEAT_SECONDS = 60.0


class Link:
    def __init__(
        self,
        options: ClientOptions,
        breaker: CircuitBreaker,
        *,
        max_connections: int,
        use_scripts: bool = True,
    ) -> None:
        if max_connections < 2:
            raise ValueError("max_connections must be at least 2 (one of them carries the lookups)")
        self.options = options
        self.breaker = breaker
        self.max_connections = max_connections
        self.pool_size = max_connections - 1  # the lookup wire is the other one
        self.use_scripts = use_scripts  # the caller's word; the server's is in ``caps``
        self.client: redis.asyncio.Redis | None = None
        self.caps: Capabilities | None = None  # found when the client connects
        self.scripts_loaded = False  # on this server now (a restart or SCRIPT FLUSH loses them)
        self.verified = False  # a probe has answered since the last connection failure
        self.deadline = options.timeout * 3 + 0.5  # connect + a command, with room to spare
        self.wire: Wire | None = None
        self.on_lost: list[Callable[[], None]] = []
        self._wire_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.pool_size)
        self._connecting = asyncio.Lock()
        self._probes = 0
        self.closed = False
        self._last_logged: tuple[str, float] = ("", 0.0)

    @property
    def is_cluster(self) -> bool | None:
        """Whether the server is a Redis Cluster; None until known (the caller may force it)."""
        return self.caps.cluster if self.caps is not None else self.options.cluster

    @property
    def scripts(self) -> bool:
        """Lua is used where the server allows it and the scripts are loaded (scripts.py)."""
        return self.scripts_loaded and self.caps is not None and self.caps.scripts

    @property
    def expire_nx_gt(self) -> bool:
        return self.caps is not None and self.caps.expire_nx_gt

    async def run(self, what: str, op: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
        """``op(client)``'s result, or FAILED (logged) when Redis is unavailable or errs."""
        if self.closed:
            log.debug("cache %s skipped: the service is closed", what)
            return FAILED  # type: ignore[no-any-return]
        async with self._slots:
            if not self.breaker.allow():
                log.debug("cache %s skipped: circuit open", what)
                return FAILED  # type: ignore[no-any-return]
            try:
                result = await asyncio.wait_for(self._call(op), self.deadline)
            except asyncio.CancelledError:
                self.breaker.record_cancelled()
                raise
            except _Skipped:
                self.breaker.record_skipped()
                log.debug("cache %s skipped: Redis did not answer the last probe", what)
            except Exception as exc:
                if not self.failed(what, exc):
                    raise
            else:
                self.breaker.record_success()
                return result
            return FAILED  # type: ignore[no-any-return]

    def failed(self, what: str, exc: BaseException) -> bool:
        """Account for a failed operation (breaker, log); False if ``exc`` is not a Redis
        failure at all (a bug, to be raised)."""
        if isinstance(exc, _TIMED_OUT):
            self._lost()
            self.breaker.record_failure(timed_out=True)
        elif isinstance(exc, _UNREACHABLE):
            self._lost()
            self.breaker.record_failure()
        elif isinstance(exc, (rex.RedisError, rex.RedisClusterException)):
            self.answered_with_error(what, exc)
            return True
        else:
            return False
        self.log_failure(what, exc)
        return True

    def answered_with_error(self, what: str, exc: BaseException) -> None:
        self.breaker.record_success()  # it answered: alive, just unhappy
        if isinstance(exc, rex.NoScriptError):
            self.scripts_loaded = False
        self.log_failure(what, exc)

    def _lost(self) -> None:
        """The connection failed: the next caller probes it again, and reloads the scripts (a
        restarted server has lost them; otherwise its first lookups fail with NOSCRIPT). The
        lookup wire is closed, and whoever listens (the near cache) is told."""
        self.verified = False
        self.scripts_loaded = False
        wire, self.wire = self.wire, None
        if wire is not None:
            wire.close()
        for listener in self.on_lost:
            listener()

    async def open_wire(self) -> Wire:
        """The pipelined lookup connection (``wire.py``), opened once the client is verified."""
        if self.wire is not None and not self.wire.closed:
            return self.wire
        async with self._wire_lock:
            if self.wire is None or self.wire.closed:
                self.wire = await open_wire(self.options.url.url, self.options.timeout)
            return self.wire

    async def connect(self) -> bool:
        """Make sure the client exists (detects a cluster, finds the capabilities); False if
        Redis is unavailable (logged)."""
        return await self.run("connect", _connected) is not FAILED

    async def primaries(self) -> list[tuple[str, int]]:
        """(host, port) of each primary in a cluster; [] for a single server."""
        if not await self.connect():
            raise rex.ConnectionError(f"Redis at {self.options.url.redacted} is unavailable")
        if not self.is_cluster or self.client is None:
            return []
        return [(node.host, node.port) for node in self.client.get_primaries()]  # type: ignore[attr-defined]

    async def _call(self, op: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
        return await op(await self._connect())

    def _ready(self) -> bool:
        return self.client is not None and self.verified and (self.scripts_loaded or not self._want_scripts())

    async def _connect(self) -> redis.asyncio.Redis:
        """The client, once a probe (PING, or INFO for cluster detection) has answered.

        After a connection failure the next callers queue here for one new probe; those
        queued behind a probe that failed give up at once (``_Skipped``) instead of each
        paying the timeout again.
        """
        if self._ready():
            return self.client  # type: ignore[return-value]
        seen = self._probes
        async with self._connecting:
            if self._ready():
                return self.client  # type: ignore[return-value]
            if self._probes != seen and not self.verified:
                raise _Skipped
            self._probes += 1
            if self.client is None:
                client, cluster = await self._make_client()
                try:
                    self.caps = await self._capabilities(client, cluster)
                except BaseException:
                    await client.aclose()
                    raise
                self.client = client
            elif not self.verified:
                await self.client.ping()
            self.verified = True
            if self._want_scripts() and not self.scripts_loaded:
                await self._load_scripts(self.client)
            return self.client

    def _want_scripts(self) -> bool:
        return self.caps is not None and self.caps.scripts

    async def _capabilities(self, client: redis.asyncio.Redis, cluster: bool) -> Capabilities:
        scripts = self.use_scripts and not cluster
        if scripts:
            scripts = await self._load_scripts(client)
        try:
            await client.execute_command("EXPIRE", PROBE_KEY, 1, "NX")
            expire_options = True
        except rex.ResponseError:  # "ERR Unsupported option NX" before Redis 7.0 (or refused)
            expire_options = False
        return Capabilities(cluster=cluster, scripts=scripts, expire_nx_gt=expire_options)

    async def _make_client(self) -> tuple[redis.asyncio.Redis, bool]:
        """A new client whose first command (PING, or INFO cluster to detect a cluster) answered,
        and whether the server is a cluster."""
        cluster = self.options.cluster
        client = async_client(dataclasses.replace(self.options, cluster=bool(cluster)), self.pool_size)
        try:
            if cluster is not None:
                await client.ping()
                return client, cluster
            found = await detect_cluster_async(client)
            if found is None:
                log.warning(
                    "cannot tell whether Redis at %s is a cluster (INFO, CLUSTER INFO, EXISTS refused): "
                    "assuming a single server; pass cluster=True or cluster=False",
                    self.options.url.redacted,
                )
            enabled = bool(found)
        except BaseException:
            await client.aclose()
            raise
        if not enabled:
            return client, False
        await client.aclose()
        routed = async_client(dataclasses.replace(self.options, cluster=True), self.pool_size)
        try:  # the slot map now: the invalidation helpers need the list of primaries
            await routed.initialize()  # type: ignore[attr-defined]
        except BaseException:
            await routed.aclose()
            raise
        return routed, True

    async def _load_scripts(self, client: redis.asyncio.Redis) -> bool:
        """Load the scripts; False (logged) when the server refuses them."""
        pipe = client.pipeline(transaction=False)
        for script in SCRIPTS:
            pipe.execute_command("SCRIPT", "LOAD", script.source)
        replies = await pipe.execute(raise_on_error=False)
        for script, reply in zip(SCRIPTS, replies, strict=True):
            if isinstance(reply, rex.ResponseError):  # NOPERM for SCRIPT/EVALSHA: plain commands
                log.warning(
                    "Lua scripts unavailable (%s): plain pipelines instead", self.describe_error(reply)
                )
                return False
            sha = reply.decode() if isinstance(reply, bytes) else str(reply)
            if sha != script.sha:  # pragma: no cover - a server that hashes differently
                raise rex.ResponseError(f"SCRIPT LOAD returned {sha} for the {script.name} script")
        self.scripts_loaded = True
        return True

    def describe_error(self, exc: BaseException) -> str:
        """One redacted line about ``exc``, with a hint."""
        if isinstance(exc, (rex.RedisError, rex.RedisClusterException, OSError)):
            return translate_error(exc, self.options.url, self.options.timeout).one_line()
        return self.options.url.redactor()(str(exc) or type(exc).__name__)

    def log_failure(self, what: str, exc: BaseException) -> None:
        """Log a failed cache operation: a warning the first time an error is seen, debug for
        the same error again within a minute, so a full or read-only Redis does not flood the
        log with one line per call."""
        text = (
            self.describe_error(exc)
            if not isinstance(exc, asyncio.TimeoutError)
            else (f"Redis at {self.options.url.redacted} did not answer within {self.deadline:g}s")
        )
        now = time.monotonic()
        last_text, last_at = self._last_logged
        level = (
            logging.DEBUG if text == last_text and now - last_at < _LOG_REPEAT_SECONDS else logging.WARNING
        )
        if level == logging.WARNING:
            self._last_logged = (text, now)
        log.log(level, "cache %s failed, treated as a miss: %s", what, text)

    async def aclose(self) -> None:
        self.closed = True
        if self.wire is not None:
            self.wire.close()
            self.wire = None
        client, self.client = self.client, None
        self.scripts_loaded = self.verified = False
        if client is not None:
            try:
                await client.aclose()
            except Exception as exc:  # closing a dead connection must not fail the caller
                log.debug("closing the Redis client: %s", self.describe_error(exc))


async def _connected(client: Any) -> bool:
    return True
