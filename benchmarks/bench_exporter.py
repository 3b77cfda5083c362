"""``llmcache exporter`` scrape time on a realistic keyspace.

Starts its own redis-server on a free port, writes the benchmark keyspace (800,000 keys by
default), starts ``llmcache exporter --listen 127.0.0.1:0`` against it, waits for the first
background keyspace view, then scrapes ``/metrics`` ``--scrapes`` times. Reports the wall time
of each scrape (HTTP round trip, as Prometheus sees it) and the server's CPU per scrape
(``INFO cpu`` used_cpu_user + used_cpu_sys, before and after all scrapes, divided by their number).
Results go to stdout and .bench/bench_exporter.json.

    python -m benchmarks.bench_exporter [--keys N] [--scrapes S]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.keyspace import build
from tests.support.servers import RedisServer

LLMCACHE = str(Path(sys.executable).with_name("llmcache"))
ADDRESS = re.compile(rb"http://127\.0\.0\.1:(\d+)/metrics")


def cpu_seconds(admin: object) -> float:
    info = admin.info("cpu")  # type: ignore[attr-defined]
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_exporter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=800_000, help="keys to write (default 800000)")
    parser.add_argument("--scrapes", type=int, default=50, help="scrapes to time (default 50)")
    args, _ = parser.parse_known_args(argv)
    env = {
        k: v for k, v in os.environ.items() if k not in ("LLMCACHE_REDIS_URL", "REDIS_URL", "LLMCACHE_CONFIG")
    }
    with tempfile.TemporaryDirectory(prefix="llmcache-bench-") as tmp:
        server = RedisServer(Path(tmp)).start()
        proc = None
        try:
            admin = server.admin()
            space = build(admin, args.keys)
            print(f"keyspace: {space.keys:,} keys", flush=True)
            command = [
                LLMCACHE,
                "--url",
                server.url,
                "exporter",
                "--listen",
                "127.0.0.1:0",
                "--refresh",
                "3600",
            ]
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            assert proc.stderr is not None
            found = ADDRESS.search(proc.stderr.readline())
            if found is None:
                raise RuntimeError("the exporter did not say where it listens")
            url = f"http://127.0.0.1:{found.group(1).decode()}/metrics"
            deadline = time.monotonic() + 120
            while b"llmcache_breakdown_age_seconds" not in urllib.request.urlopen(url).read():
                if time.monotonic() > deadline:
                    raise RuntimeError("no keyspace view after 120 s")
                time.sleep(0.2)
            seconds = []
            cpu_before = cpu_seconds(admin)
            for _ in range(args.scrapes):
                started = time.perf_counter()
                body = urllib.request.urlopen(url).read()
                seconds.append(time.perf_counter() - started)
                assert b"llmcache_up 1.0" in body
            server_cpu = (cpu_seconds(admin) - cpu_before) / args.scrapes
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
            server.stop()
    result = {
        "keys": space.keys,
        "scrapes": args.scrapes,
        "best_ms": min(seconds) * 1000,
        "median_ms": statistics.median(seconds) * 1000,
        "max_ms": max(seconds) * 1000,
        "server_cpu_ms_per_scrape": server_cpu * 1000,
    }
    print(
        f"exporter scrape on {space.keys:,} keys: best {result['best_ms']:.1f} ms, "
        f"median {result['median_ms']:.1f} ms, max {result['max_ms']:.1f} ms; "
        f"server CPU {result['server_cpu_ms_per_scrape']:.2f} ms per scrape"
    )
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "bench_exporter.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
