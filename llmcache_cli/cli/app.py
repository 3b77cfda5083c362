"""The Typer application: global options, then one sub-command per operator task."""

from __future__ import annotations

from typing import Annotated

import typer

from llmcache_cli import __version__
from llmcache_cli.cli.app_context import AppContext
from llmcache_cli.cli.main import PROG, LLMCacheGroup
from llmcache_cli.cli.registry import TYPER_SETTINGS
from llmcache_cli.config import load_settings
from llmcache_cli.urls import ClientOptions

HELP = """Run the Redis cache behind an LLM-powered trading bot.

URL order: --url, then env LLMCACHE_REDIS_URL, then REDIS_URL, then redis://localhost:6379/0.

Examples:

  llmcache stats

  llmcache --url redis://:PASSWORD@cache:6379/0 ttl --json

  llmcache invalidate AAPL --dry-run
"""

app = typer.Typer(cls=LLMCacheGroup, name="llmcache", help=HELP, no_args_is_help=True, **TYPER_SETTINGS)  # type: ignore[arg-type]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmcache {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            show_default=False,
            help="Redis URL: redis://, rediss:// (TLS) or unix://.",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            show_default=False,
            help="Connect and socket timeout [default: 5, or config].",
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="FILE",
            show_default=False,
            help="TOML config file (else LLMCACHE_CONFIG, else the user config dir).",
        ),
    ] = None,
    cluster: Annotated[
        bool | None,
        typer.Option(
            "--cluster/--no-cluster",
            show_default=False,
            help="Force Redis Cluster mode on or off [default: detect].",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (passwords redacted).")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    settings = load_settings(config)
    options = ClientOptions.from_flags(
        url, timeout if timeout is not None else settings.timeout_seconds, cluster
    )
    ctx.obj = AppContext(options=options, settings=settings, debug=debug)


def run() -> None:
    """Console-script entry point."""
    app(prog_name=PROG)
