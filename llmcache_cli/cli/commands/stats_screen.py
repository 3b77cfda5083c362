"""``stats --watch`` on a terminal: one full screen that fits the terminal it runs in.

The dashboard's sections become bordered panels. They are laid out in reading order, side by
side while the row fits the width; when the panels are taller than the screen, the long tables
show fewer rows first (the rest counted in a last row), then whole panels are left out, least
important first (``PRIORITY``). A table is never cut by the edge of the screen. The Activity
panel puts the rates since the last refresh next to the totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llmcache_cli.cli.render import stats_panels
from llmcache_cli.cli.render.units import human_bytes
from llmcache_cli.diagnostics.dashboard import StatsReport
from llmcache_cli.diagnostics.stats_rates import Rates

FEW_ROWS = 4  # long tables are cut down to this many rows before a panel is left out
MIN_TABLE_ROWS = 1  # and to this when only the most important panels are left
# Reading order, and which panel goes first when they do not all fit (last = first to go).
ORDER = ("activity", "llm", "server", "keyspace", "warnings", "namespaces", "nodes")
PRIORITY = ("activity", "llm", "warnings", "keyspace", "server", "namespaces", "nodes")
TITLES = {
    "activity": "Activity (rates since the last refresh)",
    "llm": "LLM cache (the library's counters)",
    "server": "Server",
    "keyspace": "Keyspace",
    "warnings": "Warnings",
    "namespaces": "Namespaces",
    "nodes": "Nodes",
}


@dataclass
class _Section:
    name: str
    build: Callable[[int | None], RenderableType]  # max table rows (None: all) -> the content
    rows: int = 0  # table rows that can be left out (0: none)
    limit: int | None = None
    title: str = ""

    def panel(self, width: int | None = None, height: int | None = None, expand: bool = True) -> Panel:
        return Panel(
            self.build(self.limit),
            title=self.title or TITLES[self.name],
            title_align="left",
            box=box.ROUNDED,
            width=width,
            height=height,
            padding=(0, 1),
            expand=expand,
        )


@dataclass
class _Row:
    sections: list[_Section]
    widths: list[int] = field(default_factory=list)
    height: int = 0


def _plain(table: Table) -> Table:
    """A dashboard table made to sit inside a panel: no title (the panel has it), light rules."""
    table.title = None
    table.box = box.SIMPLE_HEAD
    table.show_edge = False
    table.pad_edge = False
    return table


def _pairs(table: Table) -> Table:
    table.title = None
    table.box = None
    table.pad_edge = False
    return table


def _rate(value: float | None, unit: str, money: bool = False) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}{unit}" if money else f"{value:,.1f}{unit}"


def activity_table(report: StatsReport, rates: Rates | None) -> Table:
    """Totals with their rates since the last refresh ("-" until there was one)."""
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("total", justify="right")
    table.add_column("now", justify="right")
    k, llm = report.keyspace, report.llm.total

    def now(name: str, unit: str, money: bool = False) -> str:
        return _rate(None if rates is None else getattr(rates, name), unit, money)

    table.add_row("keyspace hits", f"{k.hits:,}", now("keyspace_hits_per_s", "/s"))
    table.add_row("keyspace misses", f"{k.misses:,}", now("keyspace_misses_per_s", "/s"))
    table.add_row("cache hits", f"{llm.hits:,}", now("cache_hits_per_s", "/s"))
    table.add_row("LLM calls (misses)", f"{llm.misses:,}", now("llm_calls_per_s", "/s"))
    table.add_row("$ saved", f"${llm.cost_saved_usd:,.2f}", now("saved_usd_per_min", "/min", True))
    table.add_row("$ spent", f"${llm.cost_spent_usd:,.2f}", now("spent_usd_per_min", "/min", True))
    table.add_row("evictions", f"{k.evicted_keys:,}", now("evictions_per_s", "/s"))
    table.add_row("expirations", f"{k.expired_keys:,}", now("expirations_per_s", "/s"))
    change = "-"
    if rates is not None:
        sign = "+" if rates.memory_change_bytes >= 0 else "-"
        change = sign + human_bytes(abs(rates.memory_change_bytes))
    table.add_row("memory", human_bytes(report.server.used_memory_bytes), change)
    return table


def _sections(report: StatsReport, rates: Rates | None) -> list[_Section]:
    memory = report.breakdown
    how = "every key" if memory.exact else f"a sample of {memory.scanned:,} keys (~: estimated)"
    sections = [
        _Section("activity", lambda _: activity_table(report, rates)),
        _Section(
            "llm",
            lambda limit: _plain(stats_panels.llm_table(report, limit)),
            rows=len(report.llm.namespaces),
        ),
        _Section("server", lambda _: _pairs(stats_panels.server_table(report))),
        _Section("keyspace", lambda _: _pairs(stats_panels.keyspace_table(report))),
        _Section("warnings", lambda _: Group(*stats_panels.warning_texts(report))),
        _Section(
            "namespaces",
            lambda limit: _plain(stats_panels.namespaces_table(report, limit)),
            rows=len(memory.namespaces),
            title=f"Namespaces, from {how}",
        ),
    ]
    nodes = stats_panels.nodes_tables(report)
    if nodes:
        count = len(report.nodes) + len(report.replicas)
        sections.append(_Section("nodes", lambda _: _plain(stats_panels.nodes_tables(report)[0]), rows=0))
        sections[-1].title = f"Nodes ({count}; totals are the primaries' sums)"
    return sections


def _natural_width(console: Console, section: _Section, width: int) -> int:
    measured = Measurement.get(console, console.options.update_width(width), section.panel(expand=False))
    return min(width, measured.maximum)


def _height(console: Console, section: _Section, width: int) -> int:
    return len(console.render_lines(section.panel(width=width), console.options.update_width(width)))


def _pack(console: Console, sections: list[_Section], width: int) -> list[_Row]:
    """In reading order, each panel in the first row that still has room for its natural width
    (else a new row); each row's spare width is shared out."""
    rows: list[_Row] = []
    naturals = {s.name: _natural_width(console, s, width) for s in sections}
    for section in sections:
        need = naturals[section.name]
        room = [r for r in rows if sum(naturals[s.name] for s in r.sections) + need <= width]
        if room:
            room[0].sections.append(section)
        else:
            rows.append(_Row([section]))
    for row in rows:
        wanted = [naturals[s.name] for s in row.sections]
        spare = width - sum(wanted)
        row.widths = [w + spare // len(wanted) for w in wanted]
        row.widths[-1] += width - sum(row.widths)
        row.height = max(_height(console, s, w) for s, w in zip(row.sections, row.widths, strict=True))
    return rows


def _shown_rows(section: _Section) -> int:
    return section.rows if section.limit is None else section.limit


def _fits(console: Console, shown: list[_Section], width: int, height: int, floor: int) -> list[_Row] | None:
    """The rows of ``shown``, their long tables cut down to no fewer than ``floor`` rows as
    needed; None when that is still too tall."""
    for section in shown:
        section.limit = None
    while True:
        rows = _pack(console, shown, width)
        excess = sum(r.height for r in rows) - height
        if excess <= 0:
            return rows
        tables = [s for s in shown if _shown_rows(s) > floor]
        if not tables:
            return None
        longest = max(tables, key=_shown_rows)
        # one row less costs one line; the "… N more" line costs one, the first time
        longest.limit = max(floor, _shown_rows(longest) - excess - (1 if longest.limit is None else 0))


def fit(
    console: Console, report: StatsReport, rates: Rates | None, width: int, height: int
) -> tuple[list[_Row], list[str]]:
    """The rows of panels that fit ``width`` x ``height``, and the panels left out: tables are
    cut down to ``FEW_ROWS`` before a panel is left out (least important first), and below that
    only when the most important panels do not fit otherwise."""
    sections = _sections(report, rates)
    by_priority = sorted(sections, key=lambda s: PRIORITY.index(s.name))
    for floor in (FEW_ROWS, MIN_TABLE_ROWS):
        for keep in range(len(sections), 0, -1):
            kept = {s.name for s in by_priority[:keep]}
            shown = [s for s in sections if s.name in kept]
            rows = _fits(console, shown, width, height, floor)
            if rows is not None:
                return rows, [s.name for s in sections if s.name not in kept]
    return [], [s.name for s in sections]


def _footer(text: str, left_out: list[str], width: int) -> str:
    """One line, never longer than the screen, that always says how many panels are left out
    (by name when there is room)."""
    names = ", ".join(TITLES[n].split(" (")[0] for n in left_out)
    hidden = f"  (+{len(left_out)} hidden)" if left_out else ""
    for candidate in (
        f"{text}  (no room for: {names})" if names else text,
        text + hidden,
        "q: leave" + hidden,
    ):
        if len(candidate) <= width:
            return candidate
    return ""


def frame(
    console: Console, report: StatsReport, rates: Rates | None, footer: str, width: int, height: int
) -> RenderableType:
    """The whole screen: the panels that fit, and one footer line."""
    rows, left_out = fit(console, report, rates, width, max(0, height - 1))
    lines: list[RenderableType] = []
    for row in rows:
        grid = Table.grid(padding=0)
        for w in row.widths:
            grid.add_column(width=w)
        grid.add_row(
            *(s.panel(width=w, height=row.height) for s, w in zip(row.sections, row.widths, strict=True))
        )
        lines.append(grid)
    lines.append(Text(_footer(footer, left_out, width), no_wrap=True, style="dim"))
    return Group(*lines)
