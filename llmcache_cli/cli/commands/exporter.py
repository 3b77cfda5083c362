"""``llmcache exporter``: serve the dashboard's metrics to Prometheus over HTTP."""

from __future__ import annotations

import math
import signal
import sys
from typing import Annotated, Any

import typer

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.options import UrlOpt
from llmcache_cli.cli.output import note
from llmcache_cli.errors import LLMCacheError, UsageError

DEFAULT_LISTEN = "127.0.0.1:9808"
DEFAULT_REFRESH = 60.0  # llmcache_cli.diagnostics.metrics_server.DEFAULT_REFRESH (imported when run)
DEFAULT_SAMPLE = 10_000
MIN_REFRESH = 1.0
MAX_REFRESH = 86_400.0

HELP = """Serve the metrics of 'stats --format prometheus' on /metrics for Prometheus (and /healthz).

A scrape reads INFO and the library's live counters; it never scans. The sampled keyspace view
(keys, memory and keys without TTL per namespace) is measured in the background every --refresh
seconds. When Redis does not answer, a scrape still succeeds with llmcache_up 0. Runs until
Ctrl-C or SIGTERM. Port 0 picks a free port (the address is printed on stderr).

Examples:

  llmcache exporter

  llmcache --url redis://cache.internal:6379/0 exporter --listen 0.0.0.0:9808 --refresh 300

  curl -s http://127.0.0.1:9808/metrics | grep llmcache_llm_cost_saved
"""


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port``, ``[v6 address]:port`` or ``:port`` (all interfaces) -> (host, port)."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"--listen must be HOST:PORT with a port from 0 to 65535, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"--listen: write an IPv6 address in brackets, as [{host}]:{port_text}")
    return host or "0.0.0.0", int(port_text)


def _check_listen(value: str) -> str:
    parse_listen(value)
    return value


def _check_refresh(value: float) -> float:
    if not (math.isfinite(value) and MIN_REFRESH <= value <= MAX_REFRESH):
        raise UsageError(
            f"--refresh must be a number of seconds between {MIN_REFRESH:g} and {MAX_REFRESH:g}, "
            f"got {value:g}"
        )
    return value


ListenOpt = Annotated[
    str,
    typer.Option("--listen", metavar="HOST:PORT", callback=_check_listen, help="Address to serve on."),
]
RefreshOpt = Annotated[
    float,
    typer.Option(
        "--refresh",
        metavar="SECONDS",
        callback=_check_refresh,
        help="How often the sampled keyspace view is measured again.",
    ),
]
SampleOpt = Annotated[
    int, typer.Option("--sample", metavar="N", min=1, help="Keys sampled for the keyspace view.")
]


def exporter(
    ctx: typer.Context,
    listen: ListenOpt = DEFAULT_LISTEN,
    refresh: RefreshOpt = DEFAULT_REFRESH,
    sample: SampleOpt = DEFAULT_SAMPLE,
    url: UrlOpt = None,
) -> None:
    host, port = parse_listen(listen)
    from llmcache_cli.diagnostics.metrics_server import MetricsSource, make_exporter_server

    options = app_context(ctx, url).options
    source = MetricsSource(options, refresh=refresh, sample=sample)
    try:
        server = make_exporter_server(host, port, source)
    except OSError as exc:
        raise LLMCacheError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{server.server_port}"
    note(f"llmcache exporter: {address}/metrics for Redis at {options.url.redacted} (Ctrl-C to stop)")

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    source.start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass  # the normal way to stop
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        source.stop()
        sys.stderr.flush()


def register(app: typer.Typer) -> None:
    app.command("exporter", help=HELP)(exporter)
