"""What the global options decide, shared by every command through ``ctx.obj``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import typer

from llmcache_cli.urls import ClientOptions

if TYPE_CHECKING:
    from llmcache_cli.client import RedisHandle
from llmcache_cli.config import Settings


@dataclass(frozen=True)
class AppContext:
    options: ClientOptions
    settings: Settings
    debug: bool = False

    def with_url(self, url: str | None) -> AppContext:
        """A command's own ``--url`` (given after the command) wins over the global one. An
        empty one is a usage error (``parse_redis_url``), as the global ``--url ""`` is."""
        if url is None:
            return self
        fresh = ClientOptions.from_flags(url, self.options.timeout, self.options.cluster)
        return replace(self, options=fresh)

    @contextlib.contextmanager
    def connect(self) -> Iterator[RedisHandle]:
        """A connected handle, closed at the end; the key lookups the command made are stored
        first, so that ``stats`` leaves them out of the hit rate (``diagnostics/own_reads.py``)."""
        from llmcache_cli.client import connect  # redis-py costs ~0.2 s to import: only when needed
        from llmcache_cli.diagnostics import own_reads

        with connect(self.options) as handle:
            try:
                yield handle
            finally:
                own_reads.record(handle)


def app_context(ctx: typer.Context, url: str | None = None) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext), "the root callback sets ctx.obj"
    return obj.with_url(url)
