"""rediss:// against a real redis-server speaking TLS, with certificates the test makes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.errors import ConnectionFailed, UsageError
from llmcache_cli.urls import parse_redis_url
from tests.support.servers import RedisServer, free_port
from tests.support.tls import TLSFiles, make_certs

pytestmark = pytest.mark.redis
PASSWORD = "tls-s3cret"


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, tls_capable: None
) -> Iterator[tuple[int, TLSFiles]]:
    """A server with a plain port (for the fixture's own readiness check) and a TLS port
    (skipped, with the server's reason, on a build without TLS)."""
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    tls_port = free_port()
    server = RedisServer(
        tmp_path_factory.mktemp("tls-redis"),
        password=PASSWORD,
        extra_args=(
            "--tls-port",
            str(tls_port),
            "--tls-cert-file",
            str(certs.cert),
            "--tls-key-file",
            str(certs.key),
            "--tls-ca-cert-file",
            str(certs.ca),
            "--tls-auth-clients",
            "no",
        ),
    ).start()
    yield tls_port, certs
    server.stop()


def tls_url(port: int, ca: Path) -> str:
    return f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"


def test_rediss_with_the_right_ca(tls_server: tuple[int, TLSFiles]) -> None:
    port, certs = tls_server
    with connect(ClientOptions.from_flags(tls_url(port, certs.ca), 3.0)) as handle:
        assert handle.client.ping()
        assert handle.client.set("k", "v") and handle.client.get("k") == b"v"


def test_rediss_with_a_wrong_ca_is_a_clear_tls_error(tls_server: tuple[int, TLSFiles]) -> None:
    port, certs = tls_server
    with pytest.raises(ConnectionFailed) as info:
        connect(ClientOptions.from_flags(tls_url(port, certs.other_ca), 3.0))
    line = info.value.one_line()
    assert "TLS" in line and "certificate" in line.lower() and PASSWORD not in line


def test_plain_url_against_the_tls_port_fails_within_the_timeout(tls_server: tuple[int, TLSFiles]) -> None:
    port, _ = tls_server
    with pytest.raises(ConnectionFailed) as info:
        connect(ClientOptions.from_flags(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", 1.0))
    assert PASSWORD not in info.value.one_line()


def test_unknown_url_parameter_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown parameter 'ssl_ca_cert'"):
        parse_redis_url("rediss://h:6380/0?ssl_ca_cert=/x")


def test_the_library_reads_over_tls_and_fails_open_with_a_wrong_ca(tls_server: tuple[int, TLSFiles]) -> None:
    """The lookup connection (cache/wire.py) speaks TLS with the URL's CA and password."""
    import asyncio

    from llmcache_cli import CacheService
    from llmcache_cli.config import Settings

    port, certs = tls_server

    async def go(url: str) -> list[object]:
        async with CacheService(url, settings=Settings(), timeout=2.0) as cache:
            stored = await cache.set("analysis:stock:TLS:v1", {"over": "tls"}, ttl=60)
            return [stored, await cache.get("analysis:stock:TLS:v1"), cache.stats.hits]

    assert asyncio.run(go(tls_url(port, certs.ca))) == [True, {"over": "tls"}, 1]
    assert asyncio.run(go(tls_url(port, certs.other_ca))) == [False, None, 0]
