"""``llmcache exporter``: the dashboard's metrics served over HTTP for Prometheus.

What a scrape costs the server is bounded, whatever its size: it never scans. Each scrape asks
``INFO`` and ``DBSIZE`` of every primary and reads the live counter hashes by name (one
pipelined round trip); the sampled keyspace view (memory and keys per namespace, keys without TTL,
and which counter namespaces exist) is refreshed in a background thread every ``refresh`` seconds
and served as last measured (``llmcache_breakdown_age_seconds`` says how old it is).

Redis down, or refusing, is a scrape that answers ``llmcache_up 0`` (HTTP 200), never an HTTP
error: the alert on it is Prometheus's to raise. The reads this process makes are taken off the
keyspace hit and miss counts, as ``stats --watch`` does.
"""

from __future__ import annotations

import logging
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.core import Metric

from llmcache_cli.client import ClientOptions, RedisHandle, connect
from llmcache_cli.config import DATA_TYPES
from llmcache_cli.diagnostics import live_counters, serverinfo
from llmcache_cli.diagnostics.dashboard import (
    DEFAULT_SAMPLE,
    Breakdown,
    StatsReport,
    collect_stats,
    live_report,
)
from llmcache_cli.diagnostics.stats_metrics import GAUGE, families, family, registry_of
from llmcache_cli.errors import LLMCacheError

log = logging.getLogger("llmcache_cli.exporter")

DEFAULT_REFRESH = 60.0
EMPTY_BREAKDOWN = Breakdown(exact=False, scanned=0, namespaces=(), counter_keys=None)


@dataclass(frozen=True)
class View:
    """The last background measurement, and when it was taken (``time.monotonic``)."""

    report: StatsReport
    at: float


class MetricsSource:
    """Builds each scrape's metrics from live figures and the background view."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        refresh: float = DEFAULT_REFRESH,
        sample: int = DEFAULT_SAMPLE,
        connector: Callable[[ClientOptions], RedisHandle] = connect,
    ) -> None:
        self.options = options
        self.refresh = refresh
        self.sample = sample
        self._connector = connector
        self._handle: RedisHandle | None = None
        self._connect_lock = threading.Lock()
        self._own_lock = threading.Lock()
        self._own = (0, 0)  # keyspace (hits, misses) this process's reads added
        self._raw = (0, 0)  # INFO's keyspace (hits, misses) at the last scrape
        self._shown = (0, 0)  # what the last scrape exposed: counters never go down
        self._measuring = False  # a background view is reading keys (its reads not counted yet)
        self._scrape_lock = threading.Lock()  # one scrape at a time: its reads are counted in order
        self.view: View | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ connection and own reads

    def handle(self) -> RedisHandle:
        """The connection, made on first need (Redis may be down when the exporter starts)."""
        with self._connect_lock:
            if self._handle is None:
                self._handle = self._connector(self.options)
            return self._handle

    def _count_own(self, lookups: tuple[int, int]) -> None:
        with self._own_lock:
            self._own = (self._own[0] + lookups[0], self._own[1] + lookups[1])

    # ------------------------------------------------------------------ background view

    def refresh_view(self) -> None:
        """Measure the sampled keyspace view now (errors are kept for the log, not raised).
        Meanwhile scrapes hold the keyspace hit and miss counts: the view's reads are only known
        once it is done."""
        with self._own_lock:
            self._measuring = True
        report = None
        try:
            report = collect_stats(self.handle(), sample=self.sample)
        except LLMCacheError as exc:
            self.last_error = exc.one_line()
            log.warning("keyspace view not refreshed: %s", self.last_error)
        finally:
            with self._own_lock:
                self._measuring = False
                if report is not None:
                    lookups = report.own_lookups
                    self._own = (self._own[0] + lookups[0], self._own[1] + lookups[1])
        if report is not None:
            self.view = View(report, time.monotonic())

    def start(self) -> None:
        """Refresh the view now and then every ``refresh`` seconds, in a daemon thread."""

        def loop() -> None:
            while not self._stop.is_set():
                self.refresh_view()
                self._stop.wait(self.refresh)

        self._thread = threading.Thread(target=loop, name="llmcache-view", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._connect_lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    # ------------------------------------------------------------------ one scrape

    def live_report(self, view: View | None) -> StatsReport:
        """Live INFO and counters over ``view``'s breakdown (no scan)."""
        handle = self.handle()
        nodes = serverinfo.gather(handle)
        keyspace = serverinfo.keyspace_figures(nodes)
        # INFO was read before this scrape's own reads: the discount is what came before
        hits, misses = self._discounted(keyspace.hits, keyspace.misses)
        keyspace = replace(keyspace, hits=hits, misses=misses)
        known: Iterable[str] = DATA_TYPES
        breakdown = EMPTY_BREAKDOWN
        if view is not None:
            breakdown = view.report.breakdown
            known = [
                *DATA_TYPES,
                *(row.namespace for row in view.report.llm.namespaces),
                *(ns.namespace for ns in breakdown.namespaces if ns.data_type is not None),
            ]
        llm = live_counters.lookup_counters(handle, known)
        self._count_own(llm.lookups)
        return live_report(
            handle, serverinfo.server_figures(nodes), keyspace, nodes, llm, breakdown, partial=False
        )

    def _discounted(self, hits: int, misses: int) -> tuple[int, int]:
        """INFO's keyspace hits and misses without this process's own reads, as counters: never
        lower than at the last scrape (the reads are estimated), back to INFO's after a reset
        (a restart or CONFIG RESETSTAT, when INFO's figures went down)."""
        with self._own_lock:
            if self._measuring:
                return self._shown
            if hits < self._raw[0] or misses < self._raw[1]:
                self._own, self._shown = (0, 0), (0, 0)
            self._raw = (hits, misses)
            own, shown = self._own, self._shown
            out = (max(shown[0], hits - own[0]), max(shown[1], misses - own[1]))
            self._shown = out
        return out

    def collect(self) -> list[Metric]:
        started = time.perf_counter()
        view = self.view  # one view for the whole scrape (the background thread may replace it)
        out: list[Metric] = []
        up = 1
        try:
            with self._scrape_lock:
                report = self.live_report(view)
            out = families(report)
        except LLMCacheError as exc:
            up = 0
            self.last_error = exc.one_line()
            log.warning("scrape: Redis unavailable: %s", self.last_error)
        extra = [
            family("up", GAUGE, "1 when Redis answered this scrape, else 0.", [({}, up)]),
            family(
                "breakdown_age_seconds",
                GAUGE,
                "Seconds since the sampled keyspace view (namespace metrics) was measured.",
                [({}, None if view is None else time.monotonic() - view.at)],
            ),
            family(
                "scrape_duration_seconds",
                GAUGE,
                "Seconds this scrape took to read Redis.",
                [({}, time.perf_counter() - started)],
            ),
        ]
        return [*out, *(m for m in extra if m is not None)]


def wsgi_app(source: MetricsSource) -> Callable[..., Iterable[bytes]]:
    """``/metrics`` (prometheus_client's own WSGI app), ``/healthz`` and a small index."""
    metrics = make_wsgi_app(registry_of(source.collect))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"llmcache exporter: metrics at /metrics, health at /healthz\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics\n"]

    return app


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def make_exporter_server(host: str, port: int, source: MetricsSource) -> WSGIServer:
    """A threaded HTTP server bound to (host, port); OSError when it cannot listen."""
    server_class = _ThreadingServer
    if ":" in host:  # IPv6
        import socket

        class _Server6(_ThreadingServer):
            address_family = socket.AF_INET6

        server_class = _Server6
    return make_server(host, port, wsgi_app(source), server_class=server_class, handler_class=_QuietHandler)
