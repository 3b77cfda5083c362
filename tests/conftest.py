"""Session-wide fixtures: one real server (flushed before each test that uses it), a real local
cluster, and a fakeredis client for pure-logic tests.

The server binary is ``$LLMCACHE_TEST_SERVER`` (a redis-server or valkey-server) when set, else
Debian's redis-server: see tests/support/servers.py and ``make test-servers``."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from llmcache_cli.client import ClientOptions, RedisHandle, connect
from tests.support.cluster import RedisClusterProcs
from tests.support.servers import REDIS_SERVER, RedisServer, server_version, tls_unsupported


def pytest_report_header() -> str:
    return f"server: {REDIS_SERVER} {server_version()}"


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own state directory (the CLI's own-reads file: diagnostics/own_reads.py)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls_capable(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skips (with the server's own reason) every test that needs a server built with TLS, when
    this one was not. The binary is asked (started with a TLS port), not judged by its name."""
    reason = tls_unsupported(tmp_path_factory.mktemp("tls-probe"))
    if reason:
        pytest.skip(reason)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the real server, emptied (data, config changes, stats) for this test."""
    admin = redis_server.admin()
    admin.flushall()
    admin.config_set("maxmemory", 0)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_resetstat()
    admin.close()
    return redis_server.url


@pytest.fixture
def real_redis(redis_url: str, redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.admin()
    yield client
    client.close()


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis()
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_cluster_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcs]:
    """A real local Redis Cluster (3 primaries + 3 replicas), started once per session."""
    cluster = RedisClusterProcs(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster_procs: RedisClusterProcs) -> str:
    """The URL of one cluster node; every primary is flushed for this test."""
    redis_cluster_procs.flushall()
    return redis_cluster_procs.url


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback listener that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.fixture
def handle(redis_url: str) -> Iterator[RedisHandle]:
    """The shared client module's handle on the session's server (the single server)."""
    with connect(ClientOptions.from_flags(redis_url)) as h:
        yield h
