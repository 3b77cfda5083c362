"""The near cache's tracking connections: where Redis says which keys changed.

One RESP3 connection per server (per primary in a cluster) runs ``CLIENT TRACKING ON BCAST
PREFIX <namespace>:`` for the namespaces the service reads; Redis then pushes ``invalidate``
messages there for every write, deletion, expiry or eviction of a key under those prefixes
(``null`` on FLUSHDB/FLUSHALL), whichever client caused it. BCAST rather than the default mode:
the reads go over other connections (the lookup pipeline, a cluster client), and a prefix costs
the server one entry, not one per key read.

Tracking starts in the background the first time a namespace is read; until it is confirmed on
every node, that namespace's answers are neither stored nor served near. A lost tracking
connection empties the near cache and bypasses it until tracking is back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from llmcache_cli.cache.near import NearCache
from llmcache_cli.cache.wire import Wire, open_wire

if TYPE_CHECKING:
    from llmcache_cli.cache.connection import Link

log = logging.getLogger("llmcache_cli.cache")


class Tracker:
    def __init__(self, link: Link, near: NearCache) -> None:
        self.link = link
        self.near = near
        self.wires: list[Wire] = []
        self.wanted: set[str] = set()
        self._task: asyncio.Task[Any] | None = None

    def want(self, namespace: str) -> None:
        """Make sure ``namespace`` gets tracked (in the background)."""
        if namespace in self.near.namespaces:
            return
        self.wanted.add(namespace)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._track())

    async def _track(self) -> None:
        while True:
            todo = sorted(self.wanted - self.near.namespaces)
            if not todo:
                return
            try:
                if not self.wires:
                    await self._open()
                await self._add(todo)
            except Exception as exc:  # tracking is optional: no near cache until it works
                self.link.log_failure("near-cache tracking", exc)
                self.lost()
                return
            self.near.ready = True
            for namespace in todo:
                self.near.track(namespace)

    async def _open(self) -> None:
        options = self.link.options
        addresses = await self.link.primaries()
        wires = []
        try:
            for host, port in addresses or [(None, None)]:  # type: ignore[list-item]
                wires.append(
                    await open_wire(
                        options.url.url,
                        options.timeout,
                        host=host,
                        port=port,
                        resp3=True,
                        on_push=self._pushed,
                        on_lost=self.lost,
                    )
                )
        except BaseException:
            for wire in wires:
                wire.on_lost = None
                wire.close()
            raise
        self.wires = wires

    async def _add(self, namespaces: list[str]) -> None:
        prefixes = [part for ns in namespaces for part in ("PREFIX", f"{ns}:")]
        timeout = self.link.options.timeout
        for wire in self.wires:
            await asyncio.wait_for(wire.call("CLIENT", "TRACKING", "ON", "BCAST", *prefixes), timeout)

    def _pushed(self, message: list[Any]) -> None:
        keys = message[1] if len(message) > 1 else None
        if keys is None:
            self.near.invalidate(None)
        else:
            self.near.invalidate(
                [k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else k for k in keys]
            )

    def lost(self) -> None:
        """A tracking connection failed (or the data path did): nothing near is valid now."""
        wires, self.wires = self.wires, []
        for wire in wires:
            wire.on_lost = None
            wire.close()
        if self.near.ready or len(self.near):
            log.info("near cache emptied: Redis tracking is down until the next read reconnects it")
        self.near.down()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.lost()
