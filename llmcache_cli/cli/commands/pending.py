"""Stubs for commands the spec names whose modules have not landed: they say so and exit 2.

``cli/registry.py`` uses a stub only while the command's module does not exist.
"""

from __future__ import annotations

import typer

from llmcache_cli.errors import NotImplementedYet

# name: the issue that builds it
PENDING: dict[str, str] = {
    "stats": "#4",
    "ttl": "#4",
    "large-keys": "#4",
    "get": "#4",
    "invalidate": "#5",
    "purge-version": "#5",
    "policy": "#3",
    "simulate": "#6",
}


def _make(name: str, issue: str):  # type: ignore[no-untyped-def]
    def command(ctx: typer.Context) -> None:
        raise NotImplementedYet(f"'llmcache {name}' is not built yet", hint=f"tracked in issue {issue}")

    return command


def register(app: typer.Typer, skip: frozenset[str] = frozenset()) -> None:
    from llmcache_cli.cli.registry import summary

    for name, issue in PENDING.items():
        if name not in skip:
            app.command(
                name,
                help=f"{summary(name)} [not built yet: issue {issue}]",
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            )(_make(name, issue))
