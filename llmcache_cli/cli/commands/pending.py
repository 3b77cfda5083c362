"""Commands the spec names whose issues have not landed yet: they say so and exit 2.

Each is removed from here when its real module is registered.
"""

from __future__ import annotations

import typer

from llmcache_cli.cli.context import app_context
from llmcache_cli.errors import NotImplementedYet

PENDING: dict[str, tuple[str, str, bool]] = {
    # name: (help, issue, needs Redis)
    "stats": ("Metrics dashboard: server, keyspace, LLM counters, namespaces.", "#4", True),
    "ttl": ("TTL inspection: histogram, per-type TTLs against the policy, leaks.", "#4", True),
    "large-keys": ("The largest keys by MEMORY USAGE, and memory by namespace.", "#4", True),
    "get": ("Show one entry: value, meta, TTL, memory.", "#4", True),
    "invalidate": ("Delete exactly the cache entries of one or more stock symbols.", "#5", True),
    "purge-version": ("Delete the entries of an old cache version.", "#5", True),
    "policy": ("Market open? And the TTL each data type gets right now.", "#3", False),
    "simulate": ("Simulate what caching saves a trading bot, on a virtual clock.", "#6", False),
}


def _make(name: str, issue: str, needs_redis: bool):  # type: ignore[no-untyped-def]
    def command(ctx: typer.Context) -> None:
        if needs_redis:
            app_context(ctx).connect().close()  # connection problems are reported as for any command
        raise NotImplementedYet(f"'llmcache {name}' is not built yet", hint=f"tracked in issue {issue}")

    return command


def register(app: typer.Typer, skip: frozenset[str] = frozenset()) -> None:
    for name, (help_text, issue, needs_redis) in PENDING.items():
        if name in skip:
            continue
        app.command(
            name,
            help=f"{help_text} [not built yet: issue {issue}]",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_make(name, issue, needs_redis))
