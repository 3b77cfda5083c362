"""Which module provides each command, loaded only when that command runs.

Importing every command would put redis-py, numpy and the holiday calendar on the start-up path
of every invocation (~0.5 s); here ``llmcache policy`` imports the calendar, ``llmcache stats``
imports redis-py, and ``llmcache --help`` imports neither.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command


@dataclass(frozen=True)
class CommandSpec:
    name: str
    module: str  # under llmcache_cli.cli.commands; its register(app) adds the command
    summary: str  # the one line shown by `llmcache --help`


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("stats", "stats", "Metrics dashboard: server, keyspace, LLM counters, namespaces."),
    CommandSpec("ttl", "ttl", "TTL inspection: histogram, TTLs against the policy, keys without TTL."),
    CommandSpec("large-keys", "large_keys", "The largest keys by MEMORY USAGE, and memory by namespace."),
    CommandSpec("exporter", "exporter", "Serve the stats metrics on /metrics for Prometheus."),
    CommandSpec("get", "get", "Show one entry: value, meta, TTL, memory."),
    CommandSpec("snapshot", "snapshot", "Fetch the server's RDB snapshot (for --rdb: no load on it)."),
    CommandSpec("invalidate", "invalidate", "Delete exactly the cache entries of stock symbols."),
    CommandSpec("purge-version", "invalidate", "Delete the entries of an old cache version."),
    CommandSpec("policy", "policy", "Market open? And the TTL each data type gets right now."),
    CommandSpec("simulate", "simulate", "Simulate what caching saves a trading bot (no Redis needed)."),
)
_BY_NAME = {spec.name: spec for spec in COMMANDS}


def names() -> list[str]:
    return [spec.name for spec in COMMANDS]


def summary(name: str) -> str:
    return _BY_NAME[name].summary


# Shared by the root app (cli/app.py) and the per-command holders below.
TYPER_SETTINGS: dict[str, object] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"], "max_content_width": 100},
}


def load(name: str) -> TyperCommand | None:
    """The click command called ``name``, importing only the module that provides it."""
    spec = _BY_NAME.get(name)
    if spec is None:
        return None
    holder = typer.Typer(**TYPER_SETTINGS)  # type: ignore[arg-type]
    holder.callback()(lambda: None)  # a callback makes get_command return a group to pick from
    importlib.import_module(f"llmcache_cli.cli.commands.{spec.module}").register(holder)
    group = get_command(holder)
    assert isinstance(group, TyperGroup)
    command = group.commands.get(name)
    assert command is None or isinstance(command, TyperCommand)
    return command
