"""Start-up of the ``llmcache`` process against the import floor of its own libraries.

- ``llmcache --help`` against ``python -c "import typer, rich, redis"``: target at most 1.5x;
- ``llmcache policy --json`` and ``llmcache simulate --json`` (start-up plus the market calendar,
  and the default simulation) for reference, the simulation also with ``OPENBLAS_NUM_THREADS=1``
  set by the caller (numpy's thread pool; llmcache no longer sets it itself).

Each command runs ``--repeat`` times in a fresh process, the commands interleaved so that a busy
phase of the machine hits them all alike; best and median are reported. Results go to stdout and
.bench/bench_startup.json.

    python -m benchmarks.bench_startup [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

LLMCACHE = str(Path(sys.executable).with_name("llmcache"))
TARGET = 1.5


def commands() -> dict[str, tuple[list[str], dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env.update({"NO_COLOR": "1", "COLUMNS": "100"})
    return {
        "import typer, rich, redis": ([sys.executable, "-c", "import typer, rich, redis"], env),
        "llmcache --help": ([LLMCACHE, "--help"], env),
        "llmcache policy --json": ([LLMCACHE, "policy", "--json"], env),
        "llmcache simulate --json": ([LLMCACHE, "simulate", "--json"], env),
        "  the same, OPENBLAS_NUM_THREADS=1": (
            [LLMCACHE, "simulate", "--json"],
            {**env, "OPENBLAS_NUM_THREADS": "1"},
        ),
    }


def measure(repeat: int) -> dict[str, list[float]]:
    todo = commands()
    times: dict[str, list[float]] = {name: [] for name in todo}
    for _ in range(repeat):
        for name, (command, env) in todo.items():
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env=env)
            times[name].append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command (7)")
    args, _ = parser.parse_known_args(argv)
    times = measure(args.repeat)
    floor = min(times["import typer, rich, redis"])
    print(f"\nstart-up, best and median of {args.repeat} runs each, interleaved")
    print(f"{'command':40} {'best':>8} {'median':>8}  vs the import floor")
    report: dict[str, object] = {"repeat": args.repeat, "target_help_vs_floor": TARGET}
    for name, runs in times.items():
        best, median = min(runs), statistics.median(runs)
        ratio = best / floor
        verdict = ""
        if name == "llmcache --help":
            verdict = f"  (target <= {TARGET}x: {'met' if ratio <= TARGET else 'missed'})"
        print(f"{name:40} {best:7.3f}s {median:7.3f}s  {ratio:.2f}x{verdict}")
        report[name.strip()] = {"best_s": best, "median_s": median, "vs_floor": ratio}
    out = Path(".bench")
    out.mkdir(exist_ok=True)
    (out / "bench_startup.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
