"""``CacheService``: the async cache a trading bot uses (docs/design.md, "The library").

Values are stored as the JSON envelope (docs/design.md, "Stored value") with ``SET key value EX
ttl``; JSON only,
never pickle. Any JSON value is a hit, falsy ones included (``{}``, ``[]``, ``0``, ``false``,
``""``, ``null``); a value that is not JSON is a miss (logged). When Redis is down, slow or
answering errors, every method logs and behaves as a miss / False / None, and never raises a
Redis error; the circuit breaker keeps a dead server from costing a timeout on every call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmcache_cli.cache.breaker import CircuitBreaker
from llmcache_cli.cache.calls import CallPath, CallSpec
from llmcache_cli.cache.connection import FAILED, Link
from llmcache_cli.cache.counters import CacheStats, CounterDelta, PendingCounters, time_saved
from llmcache_cli.cache.entries import KeyInfo, Lookup, build_meta, describe_key
from llmcache_cli.cache.lookups import LookupPipeline
from llmcache_cli.cache.near import DEFAULT_MAX_BYTES, NearCache
from llmcache_cli.cache.redis_ops import RedisOps
from llmcache_cli.cache.trace import TraceWriter
from llmcache_cli.cache.tracking import Tracker
from llmcache_cli.client import ClientOptions, check_cluster_url
from llmcache_cli.config import Settings, load_settings
from llmcache_cli.envelope import encode_envelope
from llmcache_cli.keys import DEFAULT_STOCK_ENTITY, build_key
from llmcache_cli.limits import check_ttl

if TYPE_CHECKING:
    from llmcache_cli.cache.invalidator import Invalidator

log = logging.getLogger("llmcache_cli.cache")

DEFAULT_TIMEOUT = 0.5
DEFAULT_MAX_CONNECTIONS = 20
KEYS_REMEMBERED = 10_000  # decorated calls whose key is kept (all forgotten past this)
FLUSH_DELAY = 0.05  # pending counters wait this long for a round trip to ride with


class CacheService:
    """An async Redis cache for LLM answers. Use one instance per event loop, and close it
    (``await cache.aclose()`` or ``async with CacheService() as cache``)."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        settings: Settings | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        cluster: bool | None = None,
        default_namespace: str = "analysis",
        policy: Any = None,
        trace_path: str | None = None,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        lock_ttl: float = 30.0,
        lock_wait: float | None = None,
        use_scripts: bool = True,
        near_cache: int | None = None,
        near_cache_bytes: int | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings(None)
        self.options = ClientOptions.from_flags(redis_url, timeout, cluster)
        if cluster:
            check_cluster_url(self.options.url)  # a unix socket or database N: refused now
        self.breaker = CircuitBreaker(
            failure_threshold, reset_timeout, name=f"Redis at {self.options.url.redacted}"
        )
        self.stats = CacheStats()
        self.default_namespace = default_namespace
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_ttl if lock_wait is None else lock_wait
        self._link = Link(
            self.options, self.breaker, max_connections=max_connections, use_scripts=use_scripts
        )
        # What the call path (calls.py) works with; nothing else touches them.
        self.ops = RedisOps(self._link, self.settings)
        self.pending = PendingCounters()
        self.trace = TraceWriter(trace_path) if trace_path else None
        entries = near_cache if near_cache is not None else self.settings.near_cache_entries
        size = near_cache_bytes if near_cache_bytes is not None else self.settings.near_cache_bytes
        self.near = NearCache(entries, size or DEFAULT_MAX_BYTES) if entries else None
        self.tracker = Tracker(self._link, self.near) if self.near is not None else None
        if self.tracker is not None:
            self._link.on_lost.append(self.tracker.lost)
        self.pipeline = LookupPipeline(self._link, self.near, self.spawn)
        self._calls = CallPath(self)
        self._keys: dict[Any, Any] = {}
        self._policy = policy
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flush_task: asyncio.Task[Any] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"CacheService({self.options.url.redacted!r}, breaker={self.breaker.state.value})"

    async def __aenter__(self) -> CacheService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -----------------------------------------------------------------------------------------
    # Public API

    async def get(self, key: str, default: Any = None) -> Any:
        """The cached value, or ``default`` on a miss (a cached falsy value is returned)."""
        found = await self.lookup(key)
        return found.value if found.hit else default

    async def lookup(self, key: str) -> Lookup:
        """Hit or miss, with the entry's meta; ``failed`` when Redis could not be asked."""
        return await self._calls.lookup(key, self.describe_key(key))

    async def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The hits among ``keys`` (their reads share one round trip); missing keys are absent."""
        keys = list(dict.fromkeys(keys))
        found = await asyncio.gather(*(self.lookup(k) for k in keys))
        return {key: item.value for key, item in zip(keys, found, strict=True) if item.hit}

    async def call(self, spec: CallSpec, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The answer for one described call (``CallSpec``): cached, or ``compute()``'s, stored.
        This is what ``@cached`` runs; see calls.py."""
        return await self._calls.call(spec, compute)

    async def set(
        self, key: str, value: Any, ttl: int | None = None, *, meta: Mapping[str, Any] | None = None
    ) -> bool:
        """Store ``value`` for ``ttl`` seconds (default: the TTL policy for the key's data type,
        evaluated now). ``meta`` fills the envelope's meta (model, tokens, cost_usd, ...) and
        counts ``cost_usd`` as money spent. A value that is not JSON raises TypeError/ValueError.
        """
        info = self.describe_key(key)
        full = build_meta(meta, info.data_type)
        spend = CounterDelta(cost_spent_usd=float(full["cost_usd"] or 0.0))
        if meta:
            self.stats.record_llm_call(float(full["cost_usd"] or 0.0), float(full["latency_ms"] or 0.0))
        return (await self.store(key, info, value, full, ttl, spend)) is not None

    async def delete(self, key: str) -> bool:
        """Remove ``key`` (and its symbol-index entry); True when it existed."""
        return bool(await self.ops.delete(key, self.describe_key(key)))

    async def exists(self, key: str) -> bool:
        return bool(await self.ops.simple("exists", ("EXISTS", key)))

    async def get_ttl(self, key: str) -> int | None:
        """Seconds left; -1 no TTL, -2 no such key (as Redis says); None if Redis is unavailable."""
        reply = await self.ops.simple("ttl", ("TTL", key))
        return None if reply is FAILED else int(reply)

    async def flush_counters(self) -> bool:
        """Send the pending counter increments now; True if there were none or they went."""
        if not self.pending:
            return True
        return await self.ops.send("counters", [], [], self.pending) is not FAILED

    async def aclose(self) -> None:
        """Finish background work, send pending counters, close the pool and the trace file."""
        if self._closed:
            return
        self._closed = True
        while self._tasks:  # answers in flight still get stored; new flushes are not started
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.flush_counters()
        if self.tracker is not None:
            self.tracker.close()
        await self._link.aclose()
        if self.trace is not None:
            self.trace.close()

    @property
    def invalidation(self) -> Invalidator:
        """Event and version invalidation helpers (``on_earnings``, ``on_news``, ...)."""
        from llmcache_cli.cache.invalidator import Invalidator

        return Invalidator(self._link, self.settings)

    # -----------------------------------------------------------------------------------------
    # Shared with the decorator

    @property
    def is_cluster(self) -> bool | None:
        return self._link.is_cluster

    async def connect(self) -> bool:
        """Make sure the client exists (detects a cluster); False if Redis is unavailable."""
        return await self._link.connect()

    def hash_tags(self) -> bool:
        """Whether keys wrap the symbol in a cluster hash tag: ``[keys] hash_tag = "always"``.
        Configuration alone decides, so a key never depends on the server it is sent to."""
        return self.settings.hash_tag == "always"

    async def symbol_key(
        self, namespace: str, symbol: str, *qualifiers: str, entity: str | None = None
    ) -> str:
        """A key of the schema for ``symbol``, e.g. ``analysis:stock:AAPL:v1``, or with
        ``hash_tag = "always"`` ``analysis:stock:{AAPL}:v1``, so that in a Redis Cluster a symbol's
        entries, its index and its locks share one slot."""
        return build_key(
            namespace, entity or self.stock_entity, symbol, *qualifiers, hash_tag=self.hash_tags()
        )

    @property
    def stock_entity(self) -> str:
        """The entity of the keys this service builds: ``stock``, or the first configured one."""
        entities = self.settings.stock_entities
        return DEFAULT_STOCK_ENTITY if DEFAULT_STOCK_ENTITY in entities else min(entities)

    def describe_key(self, key: str) -> KeyInfo:
        return describe_key(key, self.default_namespace, self.settings.stock_entities)

    def ttl_for(self, info: KeyInfo, ttl: int | None) -> int:
        if ttl is not None:
            return check_ttl(ttl)
        if self._policy is None:
            from llmcache_cli.ttl_policy import make_policy  # lazy: pulls in the market calendar

            self._policy = make_policy(self.settings)
        return int(self._policy.ttl(info.data_type, info.symbol, dt.datetime.now(dt.timezone.utc)))

    def remembered_key(self, call: Any) -> Any:
        """A decorated call's key, remembered by ``remember_key`` (see decorator.py)."""
        return self._keys.get(call)

    def remember_key(self, call: Any, found: Any) -> None:
        if len(self._keys) >= KEYS_REMEMBERED:
            self._keys.clear()
        self._keys[call] = found

    # -----------------------------------------------------------------------------------------
    # For the call path (calls.py)

    def count_hit(
        self, namespace: str, cost_usd: float, llm_latency_ms: float, cache_ms: float, near: bool
    ) -> None:
        """A hit, in process and (batched) in the live Redis counters."""
        self.stats.record_hit(namespace, cost_usd, llm_latency_ms, near=near)
        self.pending.add_hit(namespace, cost_usd, time_saved(llm_latency_ms, cache_ms), near)
        if self._flush_task is None or self._flush_task.done():
            self._schedule_flush()

    def count_miss(self, namespace: str, *, failed: bool = False) -> None:
        self.stats.record_miss(namespace)
        if failed:
            self.stats.errors += 1
        self.queue(namespace, CounterDelta(misses=1))

    async def store(
        self,
        key: str,
        info: KeyInfo,
        value: Any,
        meta: dict[str, Any],
        ttl: int | None,
        delta: CounterDelta,
        lock_token: str | None = None,
    ) -> int | None:
        """Write one entry; the TTL written, or None if it was not stored."""
        seconds = self.ttl_for(info, ttl)
        payload = encode_envelope(value, meta)
        ok = await self.ops.store(
            key, info, payload, seconds, [(info.namespace, delta)], self.pending, lock_token
        )
        if self.ops.prune_wanted:
            self.spawn(self.ops.prune_indexes())
        if ok:
            log.debug("cache set %s (ttl %ss)", key, seconds)
            return seconds
        self._schedule_flush()  # the counters were kept for later
        return None

    def queue(self, namespace: str, delta: CounterDelta) -> None:
        """Counter increments for the next round trip (or the short background flush)."""
        self.pending.add(namespace, delta)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        # While Redis is failing, pending counters wait for the next successful round trip
        # rather than cost a background timeout of their own.
        if self._closed or not self.pending or not self.breaker.healthy:
            return
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = self.spawn(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_DELAY)
        await self.flush_counters()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; ``aclose`` waits for it."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
