"""Benchmark: ``llmcache invalidate AAPL --yes`` against the shell one-liner operators use,

    redis-cli --scan --pattern '*:stock:AAPL:*' | xargs redis-cli unlink

on the same server and keyspace, in the same run. (That pattern is exact only for this
keyspace: it would miss ``{AAPL}`` keys and, on a symbol with ``*`` or ``?``, match others.)
Between runs the deleted keys are put back with DUMP/RESTORE, so every run deletes the same keys.
Then the per-symbol index path, at two keyspace sizes, to show its time does not grow with the
keyspace. Both commands run as subprocesses, so llmcache's time includes Python start-up.

    python -m benchmarks.bench_invalidate [--keys 800000] [--small-keys 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from benchmarks.keyspace import TARGET_SYMBOL, build
from llmcache_cli import invalidation as inv
from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.keys import symbol_index_key
from tests.support.servers import RedisServer

CLI_PATTERN = f"*:stock:{TARGET_SYMBOL}:*"
REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


@dataclass
class Snapshot:
    """The target symbol's keys as DUMP payloads, to restore them between runs."""

    dumps: list[tuple[bytes, int, bytes]]

    @classmethod
    def take(cls, client: redis.Redis) -> Snapshot:
        keys = [k for k in client.scan_iter(match=CLI_PATTERN, count=5000)]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.dump(key)
            pipe.pttl(key)
        replies = pipe.execute()
        return cls([(k, max(int(replies[2 * i + 1]), 0), replies[2 * i]) for i, k in enumerate(keys)])

    def restore(self, client: redis.Redis, index: bool = False) -> None:
        pipe = client.pipeline(transaction=False)
        for key, ttl, payload in self.dumps:
            pipe.restore(key, ttl, payload, replace=True)
        pipe.delete(symbol_index_key(TARGET_SYMBOL))
        if index:  # as the library keeps it: every cache key written for the symbol
            pipe.sadd(symbol_index_key(TARGET_SYMBOL), *[k for k, _, _ in self.dumps])
        pipe.execute()


def llmcache_cmd(url: str, *extra: str) -> list[str]:
    script = Path(sys.executable).with_name("llmcache")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "llmcache_cli"]
    return [*head, "--url", url, "invalidate", TARGET_SYMBOL, "--yes", "--json", *extra]


def timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def run_redis_cli(port: int) -> None:
    line = f"{REDIS_CLI} -p {port} --scan --pattern '{CLI_PATTERN}' | xargs {REDIS_CLI} -p {port} unlink"
    subprocess.run(line, shell=True, check=True, stdout=subprocess.DEVNULL)


# The bench keyspace's "chatbot" namespace is a cache namespace of the bot's own: listed in the
# configuration, as a deployment would, so llmcache deletes the same keys as the redis-cli pipeline.
CONFIG = '[keys]\nnamespaces = ["chatbot"]\n'


def run_llmcache(url: str, *extra: str) -> dict[str, object]:
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as config:
        config.write(CONFIG)
        config.flush()
        command = llmcache_cmd(url, *extra)
        command[command.index("--url") : command.index("--url")] = ["--config", config.name]
        proc = subprocess.run(command, check=True, capture_output=True, text=True)
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def core_seconds(url: str, method: str, count: int = inv.SCAN_COUNT) -> float:
    """One invalidation in-process (no interpreter start-up): plan + run."""
    with connect(ClientOptions.from_flags(url)) as handle:
        targets = inv.symbol_targets([TARGET_SYMBOL], {"stock"})
        seconds, result = timed(
            lambda: inv.run(handle, inv.plan(handle, targets, method == "index"), delete=True, count=count)
        )
    assert isinstance(result, inv.Invalidation) and result.method == method, result
    return seconds


def scan_calls(client: redis.Redis) -> float:
    return float(client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0))


def scan_server_seconds(client: redis.Redis) -> float:
    """Time redis-server spent executing SCAN since the last CONFIG RESETSTAT."""
    stats = client.info("commandstats").get("cmdstat_scan", {})
    return float(stats.get("usec", 0)) / 1e6


class Bench:
    def __init__(self, server: RedisServer, repeat: int) -> None:
        self.server = server
        self.client = server.admin()
        self.repeat = repeat
        self.results: dict[str, list[float]] = {}
        script = llmcache_cmd("")[0]
        runs = [timed(lambda: subprocess.run([script, "--version"], check=True, capture_output=True))[0]]
        runs += [timed(lambda: subprocess.run([script, "--version"], check=True, capture_output=True))[0]]
        self.startup = min(runs)

    def record(self, name: str, seconds: float) -> None:
        self.results.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return statistics.median(self.results[name])

    def check_deleted(self, before: int, expected: int, what: str) -> None:
        gone = before - int(self.client.dbsize())
        if gone != expected:
            raise SystemExit(f"{what} deleted {gone} keys, expected {expected}")

    def keyspace(self, n_keys: int, counts: list[int], tag: str, carry: Snapshot | None = None) -> Snapshot:
        """Build ``n_keys`` keys and time every way of deleting the target's. ``carry`` puts
        another keyspace's target keys in too, so both sizes delete the very same keys."""
        started = time.perf_counter()
        space = build(self.client, n_keys)
        if carry is not None:
            carry.restore(self.client)
        snap = Snapshot.take(self.client)
        print(
            f"built {space.keys:,} keys ({len(snap.dumps)} of {TARGET_SYMBOL}) in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        target = len(snap.dumps)
        url = self.server.url
        for _ in range(self.repeat):
            before = int(self.client.dbsize())
            self.client.config_resetstat()
            self.record(f"redis-cli@{tag}", timed(lambda: run_redis_cli(self.server.port))[0])
            self.record(f"redis-cli-scan-calls@{tag}", scan_calls(self.client))
            self.record(f"redis-cli-server-scan@{tag}", scan_server_seconds(self.client))
            self.check_deleted(before, target, "redis-cli")
            snap.restore(self.client)
            for count in counts:
                before = int(self.client.dbsize())
                seconds, data = timed(lambda c=count: run_llmcache(url, "--scan-count", str(c)))  # type: ignore[misc]
                assert isinstance(data, dict) and data["method"] == "scan" and data["deleted"] == target, data
                self.record(f"llmcache-scan-{count}@{tag}", seconds)
                self.check_deleted(before, target, "llmcache")
                snap.restore(self.client)
            snap.restore(self.client, index=True)
            seconds, data = timed(lambda: run_llmcache(url))
            assert isinstance(data, dict) and data["method"] == "index" and data["deleted"] == target, data
            self.record(f"llmcache-index@{tag}", seconds)
            snap.restore(self.client, index=True)
            self.record(f"core-index@{tag}", core_seconds(url, "index"))
            snap.restore(self.client)
            self.client.config_resetstat()
            self.record(f"core-scan@{tag}", core_seconds(url, "scan", counts[0]))
            self.record(f"server-scan@{tag}", scan_server_seconds(self.client))
            self.record(f"scan-calls@{tag}", scan_calls(self.client))
            snap.restore(self.client)
        return snap


def row(label: str, seconds: float, base: float) -> str:
    return f"    {label:<44} {seconds:7.3f} s   {seconds / base:.2f}x"


def report(
    bench: Bench, n_big: int, n_small: int, counts: list[int], version: str, repeat: int, big: int
) -> None:
    print(f"\ninvalidate {TARGET_SYMBOL}: redis-server {version}, medians of {repeat} runs")
    print(f"  (the same {big} keys of {TARGET_SYMBOL} are deleted at both keyspace sizes)")
    print(
        f"  (whole commands as subprocesses; llmcache's include Python start-up, about {bench.startup:.2f} s)"
    )
    for tag, n_keys, tried in (("big", n_big, counts), ("small", n_small, counts[:1])):
        base = bench.median(f"redis-cli@{tag}")
        print(f"  {n_keys:,} keys:")
        print(row("redis-cli --scan | xargs redis-cli unlink", base, base))
        for count in tried:
            print(
                row(
                    f"llmcache invalidate, scan, COUNT {count}",
                    bench.median(f"llmcache-scan-{count}@{tag}"),
                    base,
                )
            )
        print(row("llmcache invalidate, index", bench.median(f"llmcache-index@{tag}"), base))
    for tag, n_keys in (("big", n_big), ("small", n_small)):
        core, server = bench.median(f"core-scan@{tag}"), bench.median(f"server-scan@{tag}")
        calls = bench.median(f"scan-calls@{tag}")
        cli_calls, cli_server = (
            bench.median(f"redis-cli-scan-calls@{tag}"),
            bench.median(f"redis-cli-server-scan@{tag}"),
        )
        print(
            f"  at {n_keys:,} keys: llmcache in-process (COUNT {counts[0]}) {core:.3f} s, "
            f"{calls:,.0f} SCAN calls taking {server:.3f} s in redis-server; "
            f"redis-cli {cli_calls:,.0f} SCAN calls taking {cli_server:.3f} s"
        )
    core_big, core_small = bench.median("core-index@big"), bench.median("core-index@small")
    whole_big, whole_small = bench.median("llmcache-index@big"), bench.median("llmcache-index@small")
    grow = n_big / n_small
    print(
        f"  index path in-process (no Python start-up): {core_small * 1000:.1f} ms at {n_small:,} keys, "
        f"{core_big * 1000:.1f} ms at {n_big:,} ({core_big / core_small:.2f}x for {grow:.0f}x the keys)"
    )
    print(
        f"  index path, whole command: {whole_small:.3f} s at {n_small:,} keys, {whole_big:.3f} s at "
        f"{n_big:,} ({whole_big / whole_small:.2f}x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_invalidate", description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=800_000)
    parser.add_argument("--small-keys", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--counts", default="1000,5000,10000", help="SCAN COUNT values to try")
    args, _ = parser.parse_known_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-invalidate-") as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            bench = Bench(server, args.repeat)
            version = bench.client.info("server")["redis_version"]
            big = bench.keyspace(args.keys, counts, "big")
            bench.keyspace(args.small_keys, counts[:1], "small", carry=big)
        finally:
            server.stop()
    report(bench, args.keys, args.small_keys, counts, version, args.repeat, len(big.dumps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
