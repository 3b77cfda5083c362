"""Run the whole test suite once per server: Redis 6.2, Redis 7.0 (Debian's), Valkey 8.1.

    python scripts/test_servers.py [--require-all] [--only NAME ...] [-- PYTEST-ARGS]

The servers are those ``scripts/ensure_servers.py`` obtains (it is run first, and does nothing
when they are already in ``.servers/``). Each run sets ``LLMCACHE_TEST_SERVER`` to the server's
binary, so every fixture (the single server, the throwaway ones, the 6-node cluster) uses it.

At the end, one line per server: its version and the counts, standalone (everything outside
tests/cluster) and cluster (tests/cluster) apart. A skip is allowed only for what the build
lacks (TLS: the reason says "has no TLS"); any other skip fails the run like a failed test.
The last line is the total, ``servers: N passed, N failed, N skipped``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / ".servers" / "results"
ALLOWED_SKIP = "has no TLS"  # tests/support/servers.py tls_unsupported says it


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def text(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


@dataclass
class Outcome:
    name: str
    version: str
    seconds: float
    exit_code: int
    standalone: Counts = field(default_factory=Counts)
    cluster: Counts = field(default_factory=Counts)
    bad_skips: list[str] = field(default_factory=list)

    @property
    def green(self) -> bool:
        total = self.standalone.failed + self.cluster.failed
        return self.exit_code == 0 and total == 0 and not self.bad_skips and self.standalone.passed > 0

    def total(self) -> Counts:
        return Counts(
            self.standalone.passed + self.cluster.passed,
            self.standalone.failed + self.cluster.failed,
            self.standalone.skipped + self.cluster.skipped,
        )


def servers() -> list[tuple[str, str, str]]:
    """(name, server binary, version) of each server that could be obtained."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_servers.py")],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    ).stdout
    found = []
    for line in out.splitlines():
        name, binary, version = line.split("\t")
        found.append((name, binary, version))
    return found


def read_junit(path: Path, outcome: Outcome) -> None:
    for case in ET.parse(path).getroot().iter("testcase"):
        cluster = case.get("classname", "").startswith("tests.cluster.")
        where = outcome.cluster if cluster else outcome.standalone
        if case.find("failure") is not None or case.find("error") is not None:
            where.failed += 1
        elif (skip := case.find("skipped")) is not None:
            where.skipped += 1
            reason = skip.get("message", "")
            if ALLOWED_SKIP not in reason:
                outcome.bad_skips.append(f"{case.get('classname')}::{case.get('name')}: {reason}")
        else:
            where.passed += 1


def run(name: str, binary: str, version: str, pytest_args: list[str]) -> Outcome:
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = RESULTS / f"{name}.xml"
    report.unlink(missing_ok=True)
    print(f"\n==== {name}: {binary} (v{version}) ====", flush=True)
    env = {**os.environ, "LLMCACHE_TEST_SERVER": binary}
    env.pop("LLMCACHE_TEST_CLI", None)  # the cli beside this server's binary
    started = time.monotonic()
    code = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", *pytest_args],
        cwd=ROOT,
        env=env,
        check=False,
    ).returncode
    outcome = Outcome(name, version, time.monotonic() - started, code)
    if report.exists():
        read_junit(report, outcome)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--require-all", action="store_true", help="fail when a server could not be had")
    parser.add_argument("--only", nargs="*", default=None, help="server names (redis-6.2 ...)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    found = servers()
    wanted = ["redis-6.2", "redis-7.0", "valkey-8.1"] if args.only is None else args.only
    missing = [n for n in wanted if n not in {name for name, _, _ in found}]
    outcomes = [run(n, b, v, args.pytest_args) for n, b, v in found if n in wanted]

    print("\n==== servers ====", flush=True)
    total = Counts()
    for o in outcomes:
        verdict = "ok" if o.green else "FAILED"
        print(
            f"{o.name:<11} v{o.version:<8} standalone: {o.standalone.text()}; "
            f"cluster: {o.cluster.text()}; {o.seconds:.0f}s {verdict}"
        )
        for reason in o.bad_skips:
            print(f"  skipped without a reason the build gives: {reason}")
        t = o.total()
        total = Counts(total.passed + t.passed, total.failed + t.failed, total.skipped + t.skipped)
    for name in missing:
        print(f"{name:<11} not available (see ensure-servers above)")
    ok = all(o.green for o in outcomes) and bool(outcomes) and not (args.require_all and missing)
    print(f"servers: {total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
