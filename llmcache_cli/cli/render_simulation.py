"""Rich output of ``llmcache simulate``: the report, the breakdowns, the chart, the comparison.

Pure functions from result dataclasses to Rich renderables (and one text chart), so that the
command stays thin and the JSON form stays in the core.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from llmcache_cli.cli.render.units import human_duration, human_pct, human_rate
from llmcache_cli.simulation.inputs import PRICE_MOVE
from llmcache_cli.simulation.summary import DayFigures, Figures, Projection, SeriesPoint, SimulationResult

if TYPE_CHECKING:
    from llmcache_cli.simulation.compare import Comparison

CHART_WIDTH = 64
CHART_HEIGHT = 12
MAX_DAY_ROWS = 31
_CHART_STYLE = {"█": "green", "░": "red", " ": ""}


def _usd(value: float) -> str:
    """Dollars: cents, or four decimals below $1; in thousands or millions from $100,000, so
    that a figure fits its column."""
    size = abs(value)
    if size >= 1e8:
        return f"${value / 1e6:,.0f}M"
    if size >= 1e5:
        return f"${value / 1e6:.2f}M" if size >= 1e6 else f"${value / 1e3:.1f}k"
    return f"${value:,.2f}" if size >= 1 or value == 0 else f"${value:,.4f}"


def _count(value: int) -> str:
    """A count with thousands separators; in millions from 10,000,000 (the exact count is in
    --json)."""
    if value >= 10_000_000:
        return f"{value / 1e6:,.1f}M" if value < 1e9 else f"{value / 1e6:,.0f}M"
    return f"{value:,}"


def _span(seconds: float) -> str:
    """A duration in at most two units: ``45s``, ``10m 50s``, ``2h 29m``, ``9d 23h``."""
    return human_duration(round(seconds))


def _ms(value: float) -> str:
    """A latency: milliseconds below 100 s, else at most two units (``10m 50s``)."""
    if value >= 100_000:
        return _span(value / 1000)
    return f"{value:,.0f} ms"


def _speed(value: float | None) -> str:
    """How the latency with the cache compares with the latency without it (``speedup``:
    without / with): faster or slower, as a factor or, below 1.1x, a percentage."""
    if value is None:
        return "n/a"
    if value == 1:
        return "same latency"
    word = "faster" if value > 1 else "slower"
    ratio = value if value > 1 else 1 / value
    return f"{ratio - 1:.1%} {word}" if ratio < 1.1 else f"{ratio:.1f}x {word}"


def headline(result: SimulationResult, cache_setup: bool = True) -> Text:
    """What was simulated; ``cache_setup``: also the policy and key strategy used."""
    p = result.parameters
    if result.source == "trace":
        text = f"Replayed {p['trace']} ({p['lines']:,} requests, {len(result.per_day)} day(s))"
        text += f", policy {p['policy']}, LLM latency {p['llm_latency_ms']} ms"
        return Text(text)
    days = f"{p['days']} trading day" + ("s" if p["days"] != 1 else "")
    span = p["first_session"] if p["days"] == 1 else f"{p['first_session']} to {p['last_session']}"
    ttl = f" (TTL {_span(p['flat_ttl_seconds'])})" if p["flat_ttl_seconds"] else ""
    cost = (
        f"${p['cost_per_call_usd']:g} per call"
        if p["model"] is None
        else f"{p['model']} ${p['cost_per_call_usd']:.6f} per call"
    )
    setup = f"Policy {p['policy']}{ttl}, keys by {p['key_strategy']}, " if cache_setup else ""
    return Text(
        f"Simulated {days} ({span}): {p['symbols']} symbols x {len(p['data_types'])} data type(s) "
        f"every {_span(p['interval_seconds'])} = {result.totals.requests:,} requests\n"
        f"{setup}{cost}, LLM {p['llm_latency_ms']} ms, cache {p['cache_latency_ms']:g} ms, "
        f"seed {p['seed']}" + (f" [{result.engine} engine]" if cache_setup else "")
    )


def summary(f: Figures, monthly: Projection | None = None) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column()
    table.add_row("Hit rate", human_rate(f.hit_rate), f"{_count(f.hits)} hits, {_count(f.misses)} misses")
    if f.stale_hits is not None:
        table.add_row(
            "Stale hits",
            _count(f.stale_hits),
            f"{human_rate(f.stale_hit_rate)} of hits served after the input moved "
            f"(price > {PRICE_MOVE:.0%}, news, earnings)",
        )
    table.add_row("Cost without cache", _usd(f.cost_without_cache_usd), "every request, hits included")
    table.add_row("Cost with cache", _usd(f.cost_with_cache_usd), "the LLM calls made")
    table.add_row("Savings", _usd(f.savings_usd), human_pct(f.savings_pct))
    if monthly is not None:
        without, with_cache = _usd(monthly.cost_without_cache_usd), _usd(monthly.cost_with_cache_usd)
        table.add_row(
            "Per month",
            _usd(monthly.savings_usd),
            f"saved: {without} -> {with_cache} ({monthly.trading_days} trading days)",
        )
    table.add_row("Latency without cache", _ms(f.latency_without_cache_ms), "")
    table.add_row("Latency with cache", _ms(f.latency_with_cache_ms), _speed(f.speedup))
    return table


def _table(title: str, first: str) -> Table:
    """A breakdown: one space between columns and none at the edges, so that eight columns
    of figures fit 80 columns."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
        title_style="bold",
    )
    table.add_column(first, no_wrap=True)
    return table


def _figures_columns(table: Table, stale: bool) -> None:
    for name in ("requests", "hit rate", "misses", "no cache", "cached", "saved"):
        table.add_column(name, justify="right", no_wrap=True)
    if stale:
        table.add_column("stale", justify="right", no_wrap=True)


def _figures_cells(f: Figures, stale: bool) -> list[str]:
    cells = [
        _count(f.requests),
        human_rate(f.hit_rate),
        _count(f.misses),
        _usd(f.cost_without_cache_usd),
        _usd(f.cost_with_cache_usd),
        human_pct(f.savings_pct),
    ]
    if stale:
        cells.append("n/a" if f.stale_hits is None else _count(f.stale_hits))
    return cells


def per_type_table(result: SimulationResult) -> Table:
    stale = result.totals.stale_hits is not None
    table = _table("Per data type", "data type")
    _figures_columns(table, stale)
    for row in result.per_data_type:
        table.add_row(row.data_type, *_figures_cells(row.figures, stale))
    return table


def per_day_table(result: SimulationResult) -> Table:
    stale = result.totals.stale_hits is not None
    days: Sequence[DayFigures] = result.per_day
    title = "Per day"
    if len(days) > MAX_DAY_ROWS:
        title += f" (first {MAX_DAY_ROWS} of {len(days)}; all in --json)"
        days = days[:MAX_DAY_ROWS]
    table = _table(title, "date")
    _figures_columns(table, stale)
    for row in days:
        label = row.date.isoformat() + ("*" if row.half_day else "")
        table.add_row(label, *_figures_cells(row.figures, stale))
    if any(row.half_day for row in days):
        table.caption, table.caption_justify = "* half day (early close)", "left"
    return table


def _chart_cell(point: SeriesPoint, threshold: float) -> str:
    if point.cost_with_cache_usd >= threshold:
        return "█"
    return "░" if point.cost_without_cache_usd >= threshold else " "


def cost_chart(series: Sequence[SeriesPoint], width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> Text:
    """Cumulative cost over the run: the area without the cache, and with it (in front)."""
    text = Text()
    if not series:
        return text
    top = max(p.cost_without_cache_usd for p in series) or 1.0
    cols = width if len(series) > 1 else 1
    picks = [series[round(k * (len(series) - 1) / max(1, cols - 1))] for k in range(cols)]
    label_width = len(_usd(top))
    text.append("Cumulative cost over trading time (New York): ")
    text.append("██ with cache", style="green")
    text.append("  ")
    text.append("░░ without cache", style="red")
    text.append("\n")
    for level in range(height, 0, -1):
        threshold = top * (level - 0.5) / height
        label = _usd(top) if level == height else ("$0" if level == 1 else "")
        text.append(label.rjust(label_width) + " |")
        cells = [_chart_cell(p, threshold) for p in picks]
        for cell, run in itertools.groupby(cells):  # one span per run: rendering stays fast
            text.append(cell * len(list(run)), style=_CHART_STYLE[cell])
        text.append("\n")
    text.append(" " * label_width + " +" + "-" * cols + "\n")
    first, last = series[0].at, series[-1].at
    for fmt in ("%Y-%m-%d %H:%M", "%m-%d %H:%M", "%H:%M"):
        left, right = f"{first:{fmt}}", f"{last:{fmt}}"
        if len(left) + len(right) + 1 <= cols + 2:
            break
    gap = max(1, cols + 2 - len(left) - len(right))
    text.append(" " * (label_width + 1) + left + " " * gap + right)
    return text


def report(result: SimulationResult) -> RenderableType:
    parts: list[RenderableType] = [headline(result), Text(""), summary(result.totals, result.monthly)]
    if result.recorded is not None:
        parts += [Text(""), Text("As the trace recorded it:", style="bold"), summary(result.recorded)]
    parts += [Text(""), per_type_table(result), Text(""), per_day_table(result), Text("")]
    parts.append(cost_chart(result.series))
    when = f"{result.end_at:%Y-%m-%d %H:%M:%S %Z}"
    parts.append(Text(f"\n{len(result.live):,} entries live at {when} (--populate URL writes them to Redis)"))
    return Group(*parts)


def comparison(result: Comparison) -> RenderableType:
    table = _table(
        f"Key strategies x TTL policies (best: most saved, <= {result.max_stale_pct:g}% stale hits)",
        "strategy",
    )
    table.add_column("policy", no_wrap=True)
    for name in ("hit rate", "cost", "saved", "stale", "latency"):
        table.add_column(name, justify="right", no_wrap=True)
    for k, row in enumerate(result.rows):
        f = row.figures
        style = "bold green" if k == result.best else None
        marker = " *" if k == result.best else ""
        table.add_row(
            row.key_strategy + marker,
            row.policy,
            human_rate(f.hit_rate),
            _usd(f.cost_with_cache_usd),
            human_pct(f.savings_pct),
            human_rate(f.stale_hit_rate),
            _ms(f.latency_with_cache_ms),
            style=style,
        )
    best = result.rows[result.best]
    base = result.base.totals
    return Group(
        headline(result.base, cache_setup=False),
        Text(f"Without a cache: {_usd(base.cost_without_cache_usd)}, {_ms(base.latency_without_cache_ms)}"),
        table,
        Text(f"* best: keys by {best.key_strategy}, policy {best.policy}", style="bold"),
    )
