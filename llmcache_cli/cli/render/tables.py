"""Tables that fit: numbers, durations and headers are never cut; a column of keys gets what
is left of the width and its keys are shortened in the middle to fit.

Every operator table has the same light style (a rule under the header, no vertical lines), so
that eight columns of figures fit in 80 columns, the width Rich assumes when output is piped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from llmcache_cli.cli.render.units import shorten_middle

MIN_KEY_WIDTH = 12  # a key column is never narrower than this (the table wraps instead)
GAP = 2  # characters between two columns: the divider (a space) and one of padding


@dataclass(frozen=True)
class Col:
    header: str  # may hold "\n" for a header on two lines
    right: bool = False  # figures are right-aligned
    key: bool = False  # the one column that may be shortened (keys, names)


def width_of(text: str) -> int:
    return max((len(line) for line in text.split("\n")), default=0)


def fit(title: str | None, cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> RenderableType:
    """A table of ``rows`` (already text) within ``width`` columns of terminal, under its title
    (a line of its own, so that a narrow table never wraps it)."""
    natural = [max([width_of(c.header), *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]
    fixed = sum(w for w, c in zip(natural, cols, strict=True) if not c.key) + GAP * (len(cols) - 1)
    keys = [i for i, c in enumerate(cols) if c.key]
    budget = {i: natural[i] for i in keys}
    if keys:
        room = max(MIN_KEY_WIDTH, (width - fixed) // len(keys))
        budget = {i: min(natural[i], max(room, width_of(cols[i].header))) for i in keys}
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), expand=False)
    for i, col in enumerate(cols):
        table.add_column(
            col.header,
            justify="right" if col.right else "left",
            no_wrap=True,
            min_width=budget.get(i, natural[i]),
            max_width=budget.get(i, natural[i]),
        )
    for row in rows:
        table.add_row(*(shorten_middle(c, budget[i]) if i in budget else c for i, c in enumerate(row)))
    return table if title is None else Group(Text(""), Text(title, style="bold"), table)


def pairs(title: str, rows: Sequence[tuple[str, str]], first: bool = False) -> RenderableType:
    """Name / value rows (the dashboard's server and keyspace figures); ``first``: no blank line
    above the title."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for name, value in rows:
        table.add_row(name, value)
    heading = [Text(title, style="bold")] if first else [Text(""), Text(title, style="bold")]
    return Group(*heading, table)
