"""``llmcache get``: one entry for people, and as JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from llmcache_cli.cli.render.units import human_bytes, human_ttl
from llmcache_cli.diagnostics.entry_inspect import EntryView

KIND_NAMES = {
    "envelope": "llmcache entry (JSON envelope)",
    "json": "JSON (no llmcache envelope)",
    "text": "text (not JSON)",
    "binary": "binary (not UTF-8 text)",
}


def show(view: EntryView, console: Console) -> None:
    """The entry for people: its facts, then meta and value pretty-printed."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("key", view.key)
    shape = KIND_NAMES.get(view.kind or "", view.type)
    size = f"{view.length:,} bytes" if view.type == "string" else f"{view.length:,} items"
    facts.add_row("type", f"{shape}, {size}")
    facts.add_row("TTL", human_ttl(view.ttl_seconds))
    facts.add_row("memory", human_bytes(view.memory_bytes))
    schema = f"namespace {view.namespace}"
    if view.data_type:
        schema += f", data type {view.data_type}"
    if view.symbol:
        schema += f", symbol {view.symbol}"
    facts.add_row("key schema", schema)
    if view.node is not None:
        facts.add_row("node", f"{view.node} (cluster primary of its slot)")
    if view.cost_usd is not None:
        facts.add_row("cost", f"${view.cost_usd:.6f}")
    console.print(facts)
    if view.meta:
        console.print("meta:", style="bold")
        console.print_json(json.dumps(view.meta, ensure_ascii=False, default=str))
    console.print("value:" + (" (truncated)" if view.truncated else ""), style="bold")
    if isinstance(view.value, str) and view.kind in ("text", "binary"):
        console.print(view.value, markup=False, highlight=False)
    elif view.value is None:
        console.print(f"(a {view.type} value; llmcache cannot show it)", highlight=False)
    else:
        console.print_json(json.dumps(view.value, ensure_ascii=False, default=str))


def as_json(view: EntryView) -> dict[str, Any]:
    return {
        "key": view.key,
        "type": view.type,
        "ttl": view.ttl_seconds,
        "memory_bytes": view.memory_bytes,
        "namespace": view.namespace,
        "data_type": view.data_type,
        "symbol": view.symbol,
        "kind": view.kind,
        "value": view.value,
        "meta": view.meta,
        "cost_usd": view.cost_usd,
        "length": view.length,
        "truncated": view.truncated,
        "node": view.node,
    }
