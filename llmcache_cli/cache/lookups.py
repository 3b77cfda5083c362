"""Auto-pipelined reads: the lookups of every coroutine in one event-loop turn share one round
trip.

``read(key)`` adds the key to the current batch and returns a future; the first key of a batch
schedules ``_flush`` with ``call_soon``, which runs after every coroutine already woken in this
turn had its say. The batch goes out as one ``MGET`` (plus a ``PTTL`` per key when the near
cache wants expiries) on the service's ``Wire``, and its reply resolves the futures from the
event loop's own callback: no task per read, no await per reply. 100 concurrent callers cost a
few round trips, not 100; one caller in a loop costs one ``MGET`` per call.

A future resolves to ``(raw, pttl_ms, sent_seq)``: the stored bytes (None if absent, ``FAILED``
if Redis could not be asked), the key's PTTL (near cache only, else None) and the near cache's
sequence number when the read was sent (see ``near.py``).

In a cluster the batch goes through redis-py's cluster client (``mget_nonatomic``, which groups
keys by slot and follows MOVED), so slot routing has one owner.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import redis.exceptions as rex

from llmcache_cli.cache.connection import FAILED
from llmcache_cli.cache.wire import Wire, pack_command

if TYPE_CHECKING:
    import redis.asyncio

    from llmcache_cli.cache.connection import Link
    from llmcache_cli.cache.near import NearCache

Read = tuple[Any, Any, int]
log = logging.getLogger("llmcache_cli.cache")


class LookupPipeline:
    def __init__(self, link: Link, near: NearCache | None, spawn: Callable[[Awaitable[Any]], Any]) -> None:
        self.link = link
        self.near = near
        self.spawn = spawn
        self._batch: dict[str, list[asyncio.Future[Read]]] = {}

    def read(self, key: str) -> asyncio.Future[Read]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Read] = loop.create_future()
        waiters = self._batch.get(key)
        if waiters is not None:
            waiters.append(future)
            return future
        if not self._batch:
            loop.call_soon(self._flush)
        self._batch[key] = [future]
        return future

    def _flush(self) -> None:
        batch, self._batch = self._batch, {}
        if not batch:
            return
        unsendable = [key for key in batch if not _sendable(key)]
        for key in unsendable:  # a key no Redis command can carry is a miss, alone
            log.warning("cache key %r is not UTF-8 text: treated as a miss", key)
            self._resolve({key: batch.pop(key)}, None, None, 0)
        if batch:
            self._send(batch)

    def _send(self, batch: dict[str, list[asyncio.Future[Read]]]) -> None:
        link = self.link
        wire = link.wire
        if wire is None or wire.closed or link.closed:
            self.spawn(self._slow(batch))
            return
        seq = self.near.seq if self.near is not None else 0
        if not link.breaker.allow():
            self._resolve(batch, None, None, seq)
            return
        keys = list(batch)
        payload, count = self._commands(keys)
        future = wire.send(payload, count)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(link.deadline, _time_out, wire, future, link.deadline)
        future.add_done_callback(functools.partial(self._answered, batch, keys, seq, timer))

    def _commands(self, keys: list[str]) -> tuple[bytes, int]:
        mget = pack_command(("MGET", *keys))  # type: ignore[arg-type]
        if self.near is None:
            return mget, 1
        ttls = [pack_command(("PTTL", k)) for k in keys]  # type: ignore[arg-type]
        return mget + b"".join(ttls), 1 + len(keys)

    def _answered(
        self,
        batch: dict[str, list[asyncio.Future[Read]]],
        keys: list[str],
        seq: int,
        timer: asyncio.TimerHandle,
        future: asyncio.Future[list[Any]],
    ) -> None:
        timer.cancel()
        exc = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if exc is not None:
            self.link.failed("get", exc)
            self._resolve(batch, None, None, seq)
            return
        replies = future.result()
        values = replies[0]
        if isinstance(values, rex.ResponseError):
            self.link.answered_with_error("get", values)
            self._resolve(batch, None, None, seq)
            return
        self.link.breaker.record_success()
        self._resolve(batch, values, replies[1:] if self.near is not None else None, seq)

    @staticmethod
    def _resolve(batch: dict[str, list[asyncio.Future[Read]]], values: Any, pttls: Any, seq: int) -> None:
        if values is None:  # Redis could not be asked
            for waiters in batch.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result((FAILED, None, seq))
            return
        for i, waiters in enumerate(batch.values()):
            read = (values[i], pttls[i] if pttls else None, seq)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(read)

    async def _slow(self, batch: dict[str, list[asyncio.Future[Read]]]) -> None:
        """The first batch (connect, detect a cluster, open the wire), and every batch in a
        cluster: through ``Link.run``, with its breaker, deadline and logging."""
        keys = list(batch)
        seq = self.near.seq if self.near is not None else 0
        want_ttl = self.near is not None

        async def op(client: redis.asyncio.Redis) -> tuple[list[Any], list[Any] | None]:
            if self.link.is_cluster:
                values = await client.mget_nonatomic(keys)  # type: ignore[attr-defined]
                pttls = None
                if want_ttl:
                    pipe = client.pipeline()
                    for key in keys:
                        pipe.pttl(key)
                    pttls = await pipe.execute()
                return list(values), pttls
            wire = await self.link.open_wire()
            payload, count = self._commands(keys)
            replies = await wire.send(payload, count)
            if isinstance(replies[0], rex.ResponseError):
                raise replies[0]
            return replies[0], (replies[1:] if want_ttl else None)

        try:
            got = await self.link.run("get", op)
        except BaseException:
            self._resolve(batch, None, None, seq)
            raise
        if got is FAILED:
            self._resolve(batch, None, None, seq)
        else:
            self._resolve(batch, got[0], got[1], seq)


def _sendable(key: str) -> bool:
    try:
        key.encode("utf-8")
    except (UnicodeError, AttributeError):
        return False
    return True


def _time_out(wire: Wire, future: asyncio.Future[Any], deadline: float) -> None:
    if not future.done():
        wire.fail(rex.TimeoutError(f"Redis did not answer within {deadline:g}s"))
