"""The dashboard's sections as Rich tables, for the full-screen ``stats --watch``
(``cli/commands/stats_screen.py`` puts them in panels and cuts long ones to ``max_rows``). The
one-shot dashboard that fits 80 columns is ``cli/render/stats_view.py``."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from llmcache_cli.cli.render.units import human_bytes, human_count, human_duration, human_pct, human_rate
from llmcache_cli.diagnostics.dashboard import StatsReport
from llmcache_cli.diagnostics.live_counters import LLMCounters


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def warning_lines(report: StatsReport) -> list[str]:
    """One line per finding: the same finding on several nodes is one line naming them all
    (the JSON keeps one warning per node)."""
    grouped: dict[str, list[str]] = {}  # a finding worded without its node -> the nodes
    for w in report.warnings:
        key = w.detail if w.detail != w.message else w.message
        grouped.setdefault(key, []).append(w.node if w.detail != w.message and w.node else "")
    lines = []
    for text, names in grouped.items():
        named = [n for n in names if n]
        lines.append(
            f"{'node' if len(named) == 1 else 'nodes'} {', '.join(named)}: {text}" if named else text
        )
    return lines


def nodes_tables(report: StatsReport) -> list[Table]:
    """A cluster's nodes, one row each (none for a single server: the tables above are it)."""
    nodes = (*report.nodes, *report.replicas)
    if len(nodes) < 2:
        return []
    table = Table(title="Nodes (totals above are the primaries' sums)", title_justify="left")
    for name in ("node", "role", "keys", "memory", "hit rate", "evicted", "ops/s"):
        table.add_column(name, justify="left" if name in ("node", "role") else "right")
    for node in nodes:
        role = node.role if node.primary is None else f"{node.role} of {node.primary}"
        table.add_row(
            node.name,
            role,
            f"{node.keys:,}",
            human_bytes(node.used_memory_bytes),
            human_rate(node.hit_rate),
            f"{node.evicted_keys:,}",
            f"{node.ops_per_sec:,}",
        )
    return [table]


def server_rows(report: StatsReport) -> list[tuple[str, str]]:
    """The Server panel's rows, for the one-shot dashboard and the watch screen alike."""
    server = report.server
    mode = server.mode if server.nodes == 1 else f"{server.mode}, {server.nodes} primaries"
    limit = "none" if server.maxmemory_bytes == 0 else human_bytes(server.maxmemory_bytes)
    frag = "n/a" if server.mem_fragmentation_ratio is None else f"{server.mem_fragmentation_ratio:.2f}"
    return [
        ("version", f"{server.product} {server.version} ({mode})"),
        ("uptime", human_duration(server.uptime_seconds)),
        (
            "memory used / peak",
            f"{human_bytes(server.used_memory_bytes)} / {human_bytes(server.used_memory_peak_bytes)}",
        ),
        ("maxmemory / policy", f"{limit} / {server.maxmemory_policy}"),
        ("fragmentation", frag),
        ("clients", f"{server.connected_clients:,}"),
        ("ops/s", f"{server.ops_per_sec:,}"),
    ]


def server_table(report: StatsReport) -> Table:
    return _pairs("Server", server_rows(report))


def keyspace_table(report: StatsReport) -> Table:
    keyspace = report.keyspace
    return _pairs(
        "Keyspace",
        [
            ("keys", f"{keyspace.keys:,}"),
            ("with TTL / without", f"{keyspace.keys_with_ttl:,} / {keyspace.keys_without_ttl:,}"),
            ("hits / misses", f"{keyspace.hits:,} / {keyspace.misses:,}"),
            ("hit rate", human_rate(keyspace.hit_rate)),
            ("evicted / expired", f"{keyspace.evicted_keys:,} / {keyspace.expired_keys:,}"),
        ],
    )


def _more(table: Table, hidden: int) -> None:
    if hidden > 0:
        table.add_row(Text(f"… {hidden:,} more", style="dim"))


def llm_table(report: StatsReport, max_rows: int | None = None) -> Table:
    """The library's counters by namespace, then the total; ``max_rows`` namespaces at most
    (the others are counted in a last row)."""
    llm = report.llm
    table = Table(title="LLM cache (the library's counters)", title_justify="left")
    for name in ("namespace", "hits", "near", "misses", "hit rate", "$ spent", "$ saved", "time saved"):
        table.add_column(name, justify="left" if name == "namespace" else "right")
    shown = llm.namespaces if max_rows is None else llm.namespaces[:max_rows]
    for row in (*shown, llm.total):
        if row is llm.total:
            _more(table, len(llm.namespaces) - len(shown))
        table.add_row(*llm_cells(row))
    return table


def llm_cells(row: LLMCounters) -> tuple[str, ...]:
    """One namespace's (or the total's) counters as the LLM table shows them."""
    return (
        row.namespace,
        f"{row.hits:,}",
        f"{row.near_hits:,}",
        f"{row.misses:,}",
        human_rate(row.hit_rate),
        f"${row.cost_spent_usd:,.2f}",
        f"${row.cost_saved_usd:,.2f}",
        human_duration(round(row.time_saved_ms / 1000)),
    )


def namespaces_table(report: StatsReport, max_rows: int | None = None) -> Table:
    memory = report.breakdown
    how = (
        "every key"
        if memory.exact
        else f"a sample of {memory.scanned:,} keys (~: estimated; --full for exact)"
    )
    spaces = Table(title=f"Namespaces, from {how}", title_justify="left")
    for name in ("namespace", "data type", "keys", "memory", "no TTL"):
        spaces.add_column(name, justify="left" if name in ("namespace", "data type") else "right")
    shown = memory.namespaces if max_rows is None else memory.namespaces[:max_rows]
    for ns in shown:
        spaces.add_row(
            ns.namespace,
            ns.data_type or ("-" if ns.internal else "other"),
            human_count(ns.keys, memory.exact),
            human_bytes(ns.memory_bytes),
            human_pct(ns.no_ttl_pct),
        )
    _more(spaces, len(memory.namespaces) - len(shown))
    return spaces


def warning_texts(report: StatsReport) -> list[Text]:
    if not report.warnings:
        return [Text("No warnings.", style="green")]
    return [Text(f"! {line}", style="yellow") for line in warning_lines(report)]
