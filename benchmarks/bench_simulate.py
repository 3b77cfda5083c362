"""``llmcache simulate`` against its performance targets (issue 6), each in a fresh process.

- a year of the S&P 500: 500 symbols x 6 data types x 1-minute cycles x 252 trading days of
  2024 (about 293 million requests), market-aware TTLs, keys by symbol (``--all-strategies``:
  every key strategy); target at most 60 s (at least 5 million requests/s) and a peak RSS under
  2 GB;
- trace replay of a generated library trace (``--trace-lines``, default 1,000,000, written in
  the library's own format), parsing included; target at least 500,000 requests/s;
- the default scenario end to end: ``llmcache simulate`` as a whole process, ``--repeat`` runs,
  against "well under a second" and against ``llmcache policy --json`` (the same start-up:
  Python, the CLI's imports, the market calendar; no simulation);
- the fast engine against the reference engine on the same mid-size workload (the ratio);
- the trace-reader decision: the whole replay with the package's numpy reader against polars
  and pyarrow (the ``bench`` extra, ``benchmarks/trace_readers.py``) and the package's plain
  ``json`` reader.

Results go to stdout and .bench/bench_simulate.json.

    python -m benchmarks.bench_simulate [--quick] [--all-strategies] [--trace-lines N] [--repeat R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LLMCACHE = str(Path(sys.executable).with_name("llmcache"))
MODEL = "claude-sonnet-4-5"
SP500_TYPES = ("fundamental", "sentiment", "technical", "earnings", "market", "historical")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_year(strategy: str, days: int) -> dict[str, Any]:
    from llmcache_cli.config import Settings
    from llmcache_cli.simulation.run import simulate
    from llmcache_cli.simulation.scenario import Scenario, generated_symbols

    scenario = Scenario(
        symbols=generated_symbols(500),
        data_types=SP500_TYPES,
        interval_seconds=60,
        days=days,
        start=dt.date(2024, 1, 2),
        policy="market-aware",
        key_strategy=strategy,
    )
    started = time.perf_counter()
    result = simulate(scenario, Settings(), "fast")
    seconds = time.perf_counter() - started
    return {
        "requests": result.totals.requests,
        "seconds": seconds,
        "hit_rate": result.totals.hit_rate,
        "engine": result.engine,
        "peak_rss_mb": _peak_rss_mb(),
    }


def replay(path: str, policy: str, reader: str = "numpy") -> dict[str, Any]:
    """One whole replay (parse and simulate) of ``path``; ``reader``: the package's ``numpy``
    or ``json``, or ``polars`` or ``pyarrow`` (``trace_readers``) in its place."""
    from llmcache_cli.config import Settings
    from llmcache_cli.simulation import replay as replay_module
    from llmcache_cli.simulation import trace_parse
    from llmcache_cli.simulation.replay import replay_file

    started = time.perf_counter()
    if reader in ("polars", "pyarrow"):
        from benchmarks import trace_readers

        candidate = getattr(trace_readers, f"{reader}_columns")
        replay_module.read_columns = candidate
    else:
        trace_parse.PREFERRED = reader
    settings = Settings()
    result = replay_file(
        path, settings, policy=policy, flat_ttl_seconds=None, llm_latency_ms=500, cache_latency_ms=5
    )
    seconds = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "requests": result.totals.requests,
        "misses": result.totals.misses,
        "seconds": seconds,
        "cpu_seconds": cpu.ru_utime + cpu.ru_stime + children.ru_utime + children.ru_stime,
        "reader": result.parameters["reader"],
        "peak_rss_mb": _peak_rss_mb(),
    }


def engines() -> dict[str, Any]:
    from llmcache_cli.config import Settings
    from llmcache_cli.simulation.prepare import build_context
    from llmcache_cli.simulation.run import run_engine
    from llmcache_cli.simulation.scenario import Scenario, generated_symbols

    scenario = Scenario(
        symbols=generated_symbols(50), data_types=("analysis", "technical"), interval_seconds=300, days=5
    )
    out: dict[str, Any] = {}
    for engine in ("reference", "fast"):
        ctx = build_context(scenario, Settings())
        started = time.perf_counter()
        tally, _ = run_engine(ctx, engine)
        out[engine] = {"requests": int(tally.requests.sum()), "seconds": time.perf_counter() - started}
    return out


READER_MARGIN = 1.10  # polars or pyarrow would replace the numpy reader: within 10% of it


def reader_decision(trace: str, lines: int, quick: bool, report: dict[str, Any], row: Any) -> None:
    """The trace-reader decision: the whole replay (parse and simulate, flat policy) with the
    package's numpy reader, polars, pyarrow and the package's plain ``json`` reader. The first
    three take turns, 5 rounds (2 with --quick), so that a busy machine weighs on each alike;
    plain json runs once. Best wall clock, and the CPU of that run (the numpy reader's second
    process included)."""
    import importlib.util

    readers = ["numpy"]
    for name in ("polars", "pyarrow"):
        if importlib.util.find_spec(name) is None:
            row(f"  trace reader {name}", "not installed", "", "pip install -e '.[bench]'")
        else:
            readers.append(name)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in [*readers, "json"]}
    for _ in range(2 if quick else 5):
        for name in readers:
            runs[name].append(child("replay", trace, "flat", name))
    runs["json"].append(child("replay", trace, "flat", "json"))
    report["readers"] = runs
    best = {name: min(got, key=lambda r: r["seconds"]) for name, got in runs.items()}
    base = best["numpy"]
    for name, got in best.items():
        ratio = got["seconds"] / base["seconds"]
        agrees = "" if got["misses"] == base["misses"] else " (MISSES DIFFER)"
        if got.get("reader", name) != name:
            agrees += f" (read by {got['reader']})"
        label = "numpy (the package's)" if name == "numpy" else name
        measured = f"{got['seconds']:.2f} s wall, {got['cpu_seconds']:.2f} s CPU"
        row(f"  trace reader {label}, whole replay{agrees}", measured, "", f"{ratio:.2f}x the numpy reader")
    within = [
        r
        for r in ("polars", "pyarrow")
        if r in best and best[r]["seconds"] <= READER_MARGIN * base["seconds"]
    ]
    report["reader_within_10pct"] = within
    if within:
        verdict = ", ".join(within) + " within 10%: the numpy reader could go"
    else:
        verdict = "neither polars nor pyarrow within 10%: the numpy reader stays"
    if quick:
        verdict += " (a --quick run; the decision is taken on the full trace)"
    row(f"  trace-reader decision ({lines:,} lines, best wall)", verdict)


def write_trace(path: Path, lines: int) -> None:
    """A bot's trace in the library's format: 500 symbols x 2 data types, each asked about
    once a minute during sessions (hits recorded as a 1 h cache would have them)."""
    from llmcache_cli.cache.trace import TraceRecord
    from llmcache_cli.simulation.scenario import generated_symbols

    keys = [(t, s) for s in generated_symbols(500) for t in ("analysis", "technical")]
    templates = []
    for data_type, symbol in keys:
        for hit in (False, True):
            key = f"{data_type}:stock:{symbol}:v1"
            ttl = None if hit else 3600
            rec = TraceRecord(
                "@TS@", key, data_type, symbol, data_type, hit, MODEL, 1200, 300, 0.0081, 850.25, 1.5, ttl
            )
            templates.append(rec.to_json())
    start = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.timezone.utc)
    with path.open("w", encoding="utf-8") as out:
        minute = 0
        written = 0
        while written < lines:
            day, within = divmod(minute, 390)
            at = start + dt.timedelta(days=day, minutes=within)
            stamps = [(at + dt.timedelta(microseconds=137 * k)).isoformat() for k in range(len(keys))]
            batch = [
                templates[2 * k + (minute % 60 != 0)].replace("@TS@", stamps[k]) for k in range(len(keys))
            ]
            batch = batch[: lines - written]
            out.write("\n".join(batch) + "\n")
            written += len(batch)
            minute += 1


def child(kind: str, *args: str) -> dict[str, Any]:
    """Run ``kind`` in a fresh process."""
    command = [sys.executable, "-m", "benchmarks.bench_simulate", "--child", kind, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def wall(command: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(
            command,
            capture_output=True,
            check=True,
            env={"NO_COLOR": "1", "COLUMNS": "100", "PATH": "/usr/bin:/bin"},
        )
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_simulate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="21 trading days instead of 252, 200,000 trace lines"
    )
    parser.add_argument("--all-strategies", action="store_true", help="the year under every key strategy")
    parser.add_argument(
        "--trace-lines", type=int, default=None, help="lines of the generated trace (1000000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of the whole-process timings (5)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)
    if args.child:
        kind, *rest = args.child
        found = {
            "year": lambda: one_year(rest[0], int(rest[1])),
            "replay": lambda: replay(*rest),
            "engines": engines,
        }
        print(json.dumps(found[kind]()))
        return 0

    days = 21 if args.quick else 252
    lines = args.trace_lines or (200_000 if args.quick else 1_000_000)
    strategies = ("symbol", "conditional", "data-hash", "time-bucket") if args.all_strategies else ("symbol",)
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, measured: str, target: str = "", ratio: str = "") -> None:
        rows.append((name, measured, target, ratio))

    report: dict[str, Any] = {"days": days, "trace_lines": lines}
    for strategy in strategies:
        got = child("year", strategy, str(days))
        rate = got["requests"] / got["seconds"]
        report[f"year_{strategy}"] = got
        measured = f"{got['seconds']:.1f} s, {rate / 1e6:.1f} M req/s"
        row(f"{days} days x 500 x 6 types, 1 min, {strategy}", measured, ">= 5 M req/s", f"{rate / 5e6:.1f}x")
        ratio = f"{2048 / got['peak_rss_mb']:.1f}x under"
        row(f"  peak RSS ({got['requests']:,} requests)", f"{got['peak_rss_mb']:.0f} MB", "< 2048 MB", ratio)
    with tempfile.TemporaryDirectory(prefix="llmcache-bench-") as tmp:
        trace = Path(tmp) / "trace.jsonl"
        started = time.perf_counter()
        write_trace(trace, lines)
        megabytes = trace.stat().st_size / 1e6
        print(
            f"trace: {lines:,} lines, {megabytes:.0f} MB, in {time.perf_counter() - started:.1f}s", flush=True
        )
        for policy in ("flat", "market-aware"):  # flat: the default; market-aware reads the calendar too
            runs = [child("replay", str(trace), policy) for _ in range(3)]
            best = min(runs, key=lambda r: r["seconds"])
            rate = best["requests"] / best["seconds"]
            report[f"replay_{policy}"] = runs
            measured = f"{best['seconds']:.2f} s, {rate / 1e3:.0f} k req/s"
            name = f"trace replay, {lines:,} lines, {policy}, parsing included"
            row(name, measured, ">= 500 k req/s", f"{rate / 5e5:.2f}x")
            row("  (median of 3)", f"{statistics.median(r['seconds'] for r in runs):.2f} s")
        cli_replay = wall([LLMCACHE, "simulate", "--trace", str(trace), "--json"], 3)
        report["replay_cli_seconds"] = cli_replay
        best_cli = min(cli_replay)
        row(
            "  'llmcache simulate --trace', whole process",
            f"{best_cli:.2f} s, {lines / best_cli / 1e3:.0f} k req/s",
        )
        reader_decision(str(trace), lines, args.quick, report, row)
    default = wall([LLMCACHE, "simulate"], args.repeat)
    default_json = wall([LLMCACHE, "simulate", "--json"], args.repeat)
    baseline = wall([LLMCACHE, "policy", "--json", "--at", "2025-06-02T10:00"], args.repeat)
    report.update(default_seconds=default, default_json_seconds=default_json, policy_seconds=baseline)
    med = statistics.median
    measured = f"{med(default):.2f} s (best {min(default):.2f})"
    row(
        f"'llmcache simulate', whole process (median of {args.repeat})",
        measured,
        "< 1 s",
        f"{1 / med(default):.2f}x",
    )
    row("  'llmcache simulate --json'", f"{med(default_json):.2f} s")
    added = f"simulate adds {med(default) - med(baseline):.2f} s"
    row("  'llmcache policy --json' (start-up + calendar)", f"{med(baseline):.2f} s", "", added)
    got = child("engines")
    ref, fast = (got[e]["requests"] / got[e]["seconds"] for e in ("reference", "fast"))
    report["engines"] = got
    row("reference engine (50 x 2 types x 5 min x 5 days)", f"{ref / 1e3:.0f} k req/s")
    row("  fast engine, same workload", f"{fast / 1e6:.2f} M req/s", "", f"{fast / ref:.0f}x the reference")
    width = max(len(r[0]) for r in rows)
    print(f"\n{'benchmark':<{width}}  {'measured':<28} {'target':<16} ratio")
    for name, measured, target, ratio in rows:
        print(f"{name:<{width}}  {measured:<28} {target:<16} {ratio}")
    Path(".bench").mkdir(exist_ok=True)
    Path(".bench/bench_simulate.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
