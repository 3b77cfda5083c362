"""Event- and version-based invalidation for the bot: the library's transport for the one
invalidation core (``llmcache_cli.invalidation``), which the CLI uses too.

- ``on_earnings(symbol)`` / ``on_news(symbol)``: the data types of ``EVENT_DATA_TYPES``.
- ``invalidate_symbol(symbol, data_types=None)``: any set of the symbol's data types (all when
  None).
- ``purge_version(old, namespace=None)``: entries whose cache version (last key segment) is
  ``old``, after a version bump (``[cache] version``; any version the configuration accepts).

What is selected (``symbol_targets`` / ``version_target``: SCAN patterns with the symbol
escaped, and an exact test every key must pass: ``AAPL`` never touches ``AAPLX`` or ``aapl``)
and what a deletion sends (``deletion_commands``: ``UNLINK``, and ``SREM`` from each deleted
key's symbol index) are the CLI's rules. Only the walk is the library's own: ``SCAN MATCH ...
COUNT 1000`` on every primary through the service's connection (its breaker and timeouts), never
raising a Redis error. If Redis fails half-way the result says how many were deleted and
``complete`` is False; running it again finishes the job.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio

from llmcache_cli.cache.connection import FAILED, Link
from llmcache_cli.config import Settings
from llmcache_cli.errors import UsageError
from llmcache_cli.invalidation.deletion import deletion_commands, unlink_groups, unlinked
from llmcache_cli.invalidation.selection import (
    EVENT_DATA_TYPES,
    Target,
    known_data_types,
    symbol_targets,
    version_target,
)
from llmcache_cli.keys import key_bytes

SCAN_COUNT = 1000


@dataclass(frozen=True)
class InvalidationResult:
    matched: int
    deleted: int
    complete: bool  # False: Redis failed half-way; run it again to finish


class Invalidator:
    """The invalidation helpers of one ``CacheService`` (``cache.invalidation``)."""

    def __init__(self, link: Link, settings: Settings) -> None:
        self._link = link
        self._settings = settings

    async def on_earnings(self, symbol: str) -> InvalidationResult:
        return await self.invalidate_symbol(symbol, EVENT_DATA_TYPES["earnings"])

    async def on_news(self, symbol: str) -> InvalidationResult:
        return await self.invalidate_symbol(symbol, EVENT_DATA_TYPES["news"])

    async def invalidate_symbol(
        self, symbol: str, data_types: Iterable[str] | None = None
    ) -> InvalidationResult:
        """Delete ``symbol``'s entries of ``data_types`` (all when None). A bad symbol or an
        unknown data type is a ``ValueError``."""
        entities = self._settings.stock_entities
        (target,) = _selected(
            lambda: symbol_targets(
                [symbol], entities, None if data_types is None else known_data_types(data_types)
            )
        )
        return await self._delete(target)

    async def purge_version(self, old: str, namespace: str | None = None) -> InvalidationResult:
        """Delete the entries of cache version ``old`` (refuses the current version)."""
        target = _selected(lambda: version_target(old, namespace, self._settings.stock_entities))
        if old == self._settings.cache_version:
            raise ValueError(f"{old!r} is the current cache version; bump [cache] version first")
        return await self._delete(target)

    async def _delete(self, target: Target) -> InvalidationResult:
        # Cache entries only, as for the CLI: keys of other namespaces ([keys] namespaces) only
        # when the target names them.
        target = dataclasses.replace(target, cache_namespaces=self._settings.cache_namespaces)
        matched = deleted = 0
        async for batch in self._scan(target.patterns):
            if batch is None:
                return InvalidationResult(matched, deleted, complete=False)
            keys = sorted({k for k in batch if target.accepts(k)})
            if not keys:
                continue
            matched += len(keys)
            done = await self._unlink(keys, target)
            if done is None:
                return InvalidationResult(matched, deleted, complete=False)
            deleted += done
        return InvalidationResult(matched, deleted, complete=True)

    async def _scan(self, patterns: Iterable[str]) -> AsyncIterator[list[bytes] | None]:
        """Batches of keys; a None batch means Redis failed and the walk stopped."""
        link = self._link
        primaries = await link.run("connect", _primaries)
        if primaries is FAILED or not primaries:  # no slot map: nothing scanned is not "done"
            yield None
            return
        for pattern in patterns:
            for node in primaries:
                cursor = 0
                while True:
                    step = await link.run(
                        "scan", functools.partial(_scan_step, node=node, cursor=cursor, pattern=pattern)
                    )
                    if step is FAILED:
                        yield None
                        return
                    cursor, keys = step
                    yield keys
                    if cursor == 0:
                        break

    async def _unlink(self, keys: list[bytes], target: Target) -> int | None:
        cluster = bool(self._link.is_cluster)
        commands = deletion_commands(keys, cluster, target.entities)

        async def op(client: redis.asyncio.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))

        replies = await self._link.run("unlink", op)
        if replies is FAILED:
            return None
        return unlinked(replies, len(unlink_groups(keys, cluster)))


def _selected(make: Any) -> Any:
    """The core's usage errors as the ``ValueError`` a library caller gets for a bad argument."""
    try:
        return make()
    except UsageError as exc:
        raise ValueError(exc.one_line()) from None


async def _primaries(client: Any) -> list[Any]:
    """The nodes to scan: every primary of a cluster, or [None] for the one server."""
    if isinstance(client, redis.asyncio.RedisCluster):
        return list(client.get_primaries())
    return [None]


async def _scan_step(
    client: redis.asyncio.Redis, node: Any, cursor: int, pattern: str
) -> tuple[int, list[bytes]]:
    if node is None:
        next_cursor, keys = await client.scan(cursor=cursor, match=key_bytes(pattern), count=SCAN_COUNT)
    else:  # a cluster primary: redis-py answers {node name: cursor}, keys
        cursors, keys = await client.scan(
            cursor=cursor, match=key_bytes(pattern), count=SCAN_COUNT, target_nodes=node
        )
        next_cursor = next(iter(cursors.values())) if isinstance(cursors, dict) else cursors
    return int(next_cursor), [key_bytes(k) for k in keys]
