"""Helpers for the tests that break a cluster node: a throwaway cluster, the primaries in the
order llmcache walks them, pausing a node, and the one clean error line expected.

Each such test starts its own cluster (3 primaries, no replicas, with a password) so that breaking
a node cannot disturb the session's cluster. Its nodes wait 60 s before declaring a silent peer
failed, so the survivors keep serving while the test runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import redis.cluster

from llmcache_cli.client import ClientOptions, connect
from tests.support.cluster import RedisClusterProcs
from tests.support.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cr3t-pw"
LLMCACHE = (sys.executable, "-m", "llmcache_cli")
NO_HANG = 20.0  # seconds: a generous bound for "answers instead of hanging", not a benchmark


@contextlib.contextmanager
def throwaway_cluster(workdir: Path, keys: dict[str, str], replicas: int = 0) -> Iterator[RedisClusterProcs]:
    """A fresh 3-primary cluster holding ``keys``; stopped (every node) when the block ends."""
    procs = RedisClusterProcs(
        workdir, primaries=3, replicas_per_primary=replicas, password=PASSWORD, node_timeout_ms=60000
    ).start()
    try:
        admin = redis.cluster.RedisCluster.from_url(procs.url)
        items = list(keys.items())
        for start in range(0, len(items), 5000):
            pipe = admin.pipeline()
            for key, value in items[start : start + 5000]:
                pipe.set(key, value)
            pipe.execute()
        admin.close()
        yield procs
    finally:
        procs.stop()


def scan_order(procs: RedisClusterProcs) -> list[tuple[RedisServer, int]]:
    """The primaries in the order llmcache walks them, each with its key count."""
    with connect(ClientOptions.from_flags(procs.url, 5.0)) as handle:
        by_name = {f"127.0.0.1:{s.port}": s for s in procs.servers}
        return [(by_name[n.name], int(n.client.dbsize())) for n in handle.nodes]


@contextlib.contextmanager
def paused(server: RedisServer) -> Iterator[None]:
    """SIGSTOP the node for the block: it keeps its connections but answers nothing."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def assert_one_clean_line(stderr: str, node: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("llmcache: error:") and f"(node {node})" in line
    assert "redis://:***@127.0.0.1:" in line  # the URL, redacted
    assert PASSWORD not in line and "Traceback" not in stderr
