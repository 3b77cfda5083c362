"""Event- and version-based invalidation for the bot (SPEC section 4).

- ``on_earnings(symbol)``: an earnings release makes the symbol's ``analysis``, ``fundamental``
  and ``earnings`` entries stale; ``on_news(symbol)``: major news, its ``sentiment`` entries.
- ``invalidate_symbol(symbol, data_types=None)``: any set of the symbol's data types (all when
  None).
- ``purge_version(old)``: entries whose last key segment is the cache version ``old``, after a
  version bump (``[cache] version`` in the config).

All walk the keyspace with ``SCAN MATCH ... COUNT 1000`` (never ``KEYS``; on every primary in a
cluster), with the symbol escaped so it only matches itself, then confirm every key with
``parse_key`` (the symbol segment must equal the symbol exactly, case-sensitive: ``AAPL`` never
touches ``AAPLX`` or ``aapl``), and delete with pipelined ``UNLINK``, removing the keys from the
symbol's index in the same pipeline. If Redis fails half-way the result says how many were
deleted and ``complete`` is False; running it again finishes the job.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis.asyncio

from llmcache_cli.cache.connection import FAILED
from llmcache_cli.config import DATA_TYPES
from llmcache_cli.keys import (
    check_segment,
    escape_glob,
    is_internal,
    key_bytes,
    parse_key,
    symbol_index_key,
    symbol_match_patterns,
)

if TYPE_CHECKING:
    from llmcache_cli.cache.service import CacheService

SCAN_COUNT = 1000
EARNINGS_TYPES = ("analysis", "fundamental", "earnings")
NEWS_TYPES = ("sentiment",)


@dataclass(frozen=True)
class InvalidationResult:
    matched: int
    deleted: int
    complete: bool  # False: Redis failed half-way; run it again to finish


class Invalidator:
    def __init__(self, service: CacheService) -> None:
        self.service = service

    async def on_earnings(self, symbol: str) -> InvalidationResult:
        return await self.invalidate_symbol(symbol, EARNINGS_TYPES)

    async def on_news(self, symbol: str) -> InvalidationResult:
        return await self.invalidate_symbol(symbol, NEWS_TYPES)

    async def invalidate_symbol(
        self, symbol: str, data_types: Iterable[str] | None = None
    ) -> InvalidationResult:
        entities = self.service.settings.stock_entities
        wanted = set(DATA_TYPES if data_types is None else data_types)
        unknown = wanted - set(DATA_TYPES)
        if unknown:
            raise ValueError(f"unknown data type {sorted(unknown)[0]!r}; known: {', '.join(DATA_TYPES)}")

        def keep(key: bytes) -> bool:
            parsed = parse_key(key)
            return parsed is not None and parsed.symbol(entities) == symbol and parsed.data_type in wanted

        return await self._delete_matching(symbol_match_patterns(symbol, entities), keep)

    async def purge_version(self, old: str, namespace: str | None = None) -> InvalidationResult:
        """Delete the entries of cache version ``old`` (refuses the current version)."""
        check_segment(old, "version")
        if old == self.service.settings.cache_version:
            raise ValueError(f"{old!r} is the current cache version; bump [cache] version first")
        prefix = escape_glob(check_segment(namespace, "namespace")) if namespace else "*"

        def keep(key: bytes) -> bool:
            parsed = parse_key(key)
            return (
                parsed is not None
                and not is_internal(key)
                and bool(parsed.qualifiers)
                and parsed.qualifiers[-1] == old
                and (namespace is None or parsed.namespace == namespace)
            )

        return await self._delete_matching([f"{prefix}:*:{escape_glob(old)}"], keep)

    async def _delete_matching(
        self, patterns: list[str], keep: Callable[[bytes], bool]
    ) -> InvalidationResult:
        matched = deleted = 0
        async for batch in self._scan(patterns):
            if batch is None:
                return InvalidationResult(matched, deleted, complete=False)
            keys = sorted({k for k in batch if keep(k)})
            if not keys:
                continue
            matched += len(keys)
            done = await self._unlink(keys)
            if done is None:
                return InvalidationResult(matched, deleted, complete=False)
            deleted += done
        return InvalidationResult(matched, deleted, complete=True)

    async def _scan(self, patterns: list[str]) -> AsyncIterator[list[bytes] | None]:
        """Batches of keys; a None batch means Redis failed and the walk stopped."""
        link = self.service._link
        if not await self.service.connect():
            yield None
            return
        client = link.client
        assert client is not None
        nodes: list[Any] = list(client.get_primaries()) if link.is_cluster else [None]  # type: ignore[attr-defined]
        if not nodes:  # a cluster client without a slot map: nothing scanned is not "done"
            yield None
            return
        for pattern in patterns:
            for node in nodes:
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

    async def _unlink(self, keys: list[bytes]) -> int | None:
        entities = self.service.settings.stock_entities
        commands: list[tuple[Any, ...]] = []
        for key in keys:
            commands.append(("UNLINK", key))
            parsed = parse_key(key)
            symbol = parsed.symbol(entities) if parsed else None
            if parsed and symbol:
                commands.append(("SREM", symbol_index_key(symbol, parsed.entity), key))

        async def op(client: redis.asyncio.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))

        replies = await self.service._link.run("unlink", op)
        if replies is FAILED:
            return None
        return sum(
            r for c, r in zip(commands, replies, strict=True) if c[0] == "UNLINK" and isinstance(r, int)
        )


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
