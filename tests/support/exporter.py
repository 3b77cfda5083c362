"""Run ``llmcache exporter`` as a real process on a free port and scrape it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

LLMCACHE = (sys.executable, "-m", "llmcache_cli")
_ADDRESS = re.compile(r"(http://127\.0\.0\.1:\d+)/metrics")


@dataclass
class Exporter:
    base: str
    process: subprocess.Popen[str]

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def scrape(self) -> dict[str, Any]:
        """The metric families of one /metrics scrape, by name (counters without ``_total``)."""
        status, text = self.get("/metrics")
        assert status == 200, text
        return {f.name: f for f in text_string_to_metric_families(text)}

    def wait_for_view(self, timeout: float = 20.0) -> dict[str, Any]:
        """Scrape until the background keyspace view has been measured."""
        deadline = time.monotonic() + timeout
        while True:
            families = self.scrape()
            if "llmcache_breakdown_age_seconds" in families or time.monotonic() > deadline:
                return families
            time.sleep(0.1)


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("LLMCACHE_") and k != "REDIS_URL"}
    out["NO_COLOR"] = "1"
    return out


@contextmanager
def running_exporter(url: str, *args: str) -> Iterator[Exporter]:
    command = [*LLMCACHE, "--url", url, "exporter", "--listen", "127.0.0.1:0", *args]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env()
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = _ADDRESS.search(line)
        assert found, f"the exporter did not start: {line}{process.stderr.read() if process.poll() else ''}"
        yield Exporter(found.group(1), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
