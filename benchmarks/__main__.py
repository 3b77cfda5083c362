"""Run every benchmark module listed in BENCHMARKS and print its ratios."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: list[str] = [
    "bench_library",
    "bench_near",
    "bench_startup",
    "bench_invalidate",
    "bench_operator",
    "bench_rdb",
    "bench_simulate",
    "bench_load",
    "bench_exporter",
]


def main() -> int:
    if not BENCHMARKS:
        print("no benchmarks yet: they land with the operator-command and invalidate issues")
        return 0
    for name in BENCHMARKS:
        importlib.import_module(f"benchmarks.{name}").main(sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
