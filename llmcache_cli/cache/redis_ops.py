"""The Redis commands behind each cache operation, one pipeline (one round trip) each.

Every pipeline also carries the counter increments of the operation and any pending ones
(``PendingCounters``). Lookups are not here: they go through the auto-pipeline
(``lookups.py``); after a miss, ``lock_and_read`` takes the stampede lock and reads again.

A store is ``SET key value EX ttl`` plus, for an entry with a symbol, ``SADD`` to the symbol's
index and ``EXPIRE index ttl NX`` + ``EXPIRE index ttl GT`` so the index outlives its longest
entry (``scripts.EXTEND`` on servers older than 7.0), plus the counters and the lock release.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio
import redis.exceptions as rex

from llmcache_cli.cache.connection import FAILED, Link
from llmcache_cli.cache.counters import CounterDelta, PendingCounters
from llmcache_cli.cache.entries import MISS_FAILED, KeyInfo, Lookup
from llmcache_cli.cache.scripts import EXTEND_SCRIPT, RELEASE_SCRIPT
from llmcache_cli.config import Settings
from llmcache_cli.envelope import decode_entry
from llmcache_cli.keys import lock_key, symbol_index_key

log = logging.getLogger("llmcache_cli.cache")

Command = tuple[Any, ...]
INDEX_PRUNE_AT = 512  # members; above this, index entries whose key has expired are removed


class RedisOps:
    def __init__(self, link: Link, settings: Settings) -> None:
        self.link = link
        self.settings = settings
        self.prune_wanted: set[str] = set()

    async def send(
        self,
        what: str,
        build: Callable[[], list[Command]] | list[Command],
        deltas: Sequence[tuple[str, CounterDelta]],
        pending: PendingCounters,
    ) -> Any:
        """Run ``build()``'s commands plus counters in one pipeline; their replies or FAILED.

        Counters of a call that never reached Redis (breaker open, connect failed) are kept in
        ``pending``; counters sent with a pipeline that then failed are lost (at most once).
        """
        sent = False

        async def op(client: redis.asyncio.Redis) -> list[Any]:
            nonlocal sent
            commands = build() if callable(build) else build
            extra = [cmd for ns, delta in deltas for cmd in delta.commands(ns)]
            sent = True
            extra += pending.drain()
            replies = await _pipeline(client, [*commands, *extra])
            for reply in replies[len(commands) :]:
                if isinstance(reply, Exception):
                    log.debug("counter update failed: %s", self.link.describe_error(reply))
            if any(isinstance(r, rex.NoScriptError) for r in replies):
                self.link.scripts_loaded = False
            return replies[: len(commands)]

        replies = await self.link.run(what, op)
        if replies is FAILED and not sent:
            for namespace, delta in deltas:
                pending.add(namespace, delta)
        return replies

    async def simple(self, what: str, command: Command) -> Any:
        async def op(client: redis.asyncio.Redis) -> Any:
            return await client.execute_command(*command)

        return await self.link.run(what, op)

    # -----------------------------------------------------------------------------------------

    async def lock_and_read(
        self, key: str, token: str, lock_ttl: float, pending: PendingCounters
    ) -> tuple[Lookup, str]:
        """After a miss: ``SET lock token NX PX`` and ``GET key`` in one round trip. The lock
        comes first, so whoever gets it also sees an answer stored before the last holder let
        go (a holder stores, then releases, in one pipeline). The lookup, and the lock's state:
        "acquired", "held" by another caller, or "none" (Redis refused or could not be asked)."""
        commands: list[Command] = [
            ("SET", lock_key(key), token, "NX", "PX", int(lock_ttl * 1000)),
            ("GET", key),
        ]
        replies = await self.send("lock", commands, [], pending)
        if replies is FAILED:
            return MISS_FAILED, "none"
        taken, raw = replies  # in the order sent: the lock, then the entry
        if isinstance(taken, Exception):
            self.link.log_failure(f"lock {key}", taken)
            lock = "none"
        else:
            lock = "acquired" if taken else "held"
        if isinstance(raw, Exception):
            self.link.log_failure(f"get {key}", raw)
            return Lookup(hit=False), lock
        if raw is None:
            return Lookup(hit=False), lock
        entry = decode_entry(raw)
        if entry.kind in ("text", "binary"):
            log.warning("cache entry %s is not JSON: treated as a miss", key)
            return Lookup(hit=False), lock
        return Lookup(hit=True, value=entry.result, meta=entry.meta), lock

    # -----------------------------------------------------------------------------------------

    def _index_mode(self) -> str:
        if self.link.expire_nx_gt:
            return "nx-gt"
        return "script" if self.link.scripts else "ttl"

    @staticmethod
    def _index_commands(mode: str, index: str, ttl: int) -> dict[str, Command]:
        if mode == "nx-gt":
            return {
                "index-ttl": ("EXPIRE", index, ttl, "NX"),
                "index-ttl-raise": ("EXPIRE", index, ttl, "GT"),
            }
        if mode == "script":
            return {"index-ttl": ("EVALSHA", EXTEND_SCRIPT.sha, 1, index, ttl)}
        return {"index-ttl": ("TTL", index)}

    async def store(
        self,
        key: str,
        info: KeyInfo,
        payload: bytes,
        ttl: int,
        deltas: Sequence[tuple[str, CounterDelta]],
        pending: PendingCounters,
        lock_token: str | None = None,
    ) -> bool:
        index = symbol_index_key(info.symbol, info.entity or "stock") if info.symbol else None
        named: dict[str, Command] = {}
        mode = self._index_mode()

        def build() -> list[Command]:
            named.clear()
            named["set"] = ("SET", key, payload, "EX", ttl)
            if index:
                named["index-add"] = ("SADD", index, key)
                named.update(self._index_commands(mode, index, ttl))
                named["index-size"] = ("SCARD", index)
            if lock_token:
                named["unlock"] = self._release_command(key, lock_token)
            return list(named.values())

        replies = await self.send("set", build, deltas, pending)
        if replies is FAILED:
            return False
        reply = dict(zip(named, replies, strict=True))
        if isinstance(reply["set"], Exception):
            self.link.log_failure(f"set {key}", reply["set"])
            return False
        if index:
            ttl_replies = [reply[name] for name in ("index-ttl", "index-ttl-raise") if name in reply]
            await self._fix_index_ttl(index, ttl, mode, ttl_replies)
            if isinstance(reply["index-size"], int) and reply["index-size"] > INDEX_PRUNE_AT:
                self.prune_wanted.add(index)
        return True

    async def _fix_index_ttl(self, index: str, ttl: int, mode: str, replies: list[Any]) -> None:
        if mode != "ttl" and any(isinstance(r, rex.ResponseError) for r in replies):
            self.link.log_failure(f"index-ttl {index}", next(r for r in replies if isinstance(r, Exception)))
            mode, replies = "ttl", [await self.simple("index-ttl", ("TTL", index))]
        left = replies[0] if mode == "ttl" and replies else None
        if isinstance(left, int) and (left == -1 or 0 <= left < ttl):
            # No script to do it atomically: a rare race may leave a shorter TTL, never none.
            await self.simple("index-ttl", ("EXPIRE", index, ttl))

    def _release_command(self, key: str, token: str) -> Command:
        if self.link.scripts:
            return ("EVALSHA", RELEASE_SCRIPT.sha, 1, lock_key(key), token)
        return ("DEL", lock_key(key))

    async def release(self, key: str, token: str, pending: PendingCounters) -> None:
        await self.send("unlock", lambda: [self._release_command(key, token)], [], pending)

    async def delete(self, key: str, info: KeyInfo) -> bool:
        commands: list[Command] = [("UNLINK", key)]
        if info.symbol:
            commands.append(("SREM", symbol_index_key(info.symbol, info.entity or "stock"), key))
        replies = await self.link.run("delete", lambda client: _pipeline(client, commands))
        return replies is not FAILED and isinstance(replies[0], int) and replies[0] > 0

    async def prune_indexes(self) -> None:
        """Drop index members whose entry has expired, for the indexes that grew large."""
        while self.prune_wanted:
            index = self.prune_wanted.pop()

            async def op(client: redis.asyncio.Redis, index: str = index) -> int:
                members = sorted(await client.smembers(index))
                exists = await _pipeline(client, [("EXISTS", m) for m in members])
                gone = [m for m, e in zip(members, exists, strict=True) if e == 0]
                if gone:
                    await client.srem(index, *gone)
                return len(gone)

            removed = await self.link.run("index-prune", op)
            if removed:
                log.debug("pruned %d expired keys from %s", removed, index)


async def _pipeline(client: redis.asyncio.Redis, commands: list[Command]) -> list[Any]:
    if not commands:
        return []
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return list(await pipe.execute(raise_on_error=False))
