"""Options shared by several commands, as reusable ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", metavar="URL", help="Redis URL (overrides the global --url and env).", show_default=False
    ),
]
PatternOpt = Annotated[
    str | None,
    typer.Option(
        "--pattern", metavar="GLOB", help="Only keys matching this SCAN MATCH glob.", show_default=False
    ),
]
PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        metavar="NAME",
        show_default=False,
        help="flat, by-type or market-aware [default: from config, else market-aware].",
    ),
]
