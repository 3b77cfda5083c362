"""The operator commands and the library over TLS (``rediss://``), against a real redis-server
started with a certificate the test makes with openssl (issue 8). The client module's own TLS
tests are in tests/test_tls.py; these check the whole command path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmcache_cli import CacheService, cached
from llmcache_cli.config import Settings
from tests.cli.conftest import Invoke
from tests.reliability.conftest import ENVELOPE, assert_fails_cleanly
from tests.support.servers import RedisServer, free_port
from tests.support.tls import TLSFiles, make_certs

pytestmark = pytest.mark.redis
PASSWORD = "tls-Pa55!"


@pytest.fixture(scope="module")
def tls(
    tmp_path_factory: pytest.TempPathFactory, tls_capable: None
) -> Iterator[tuple[RedisServer, int, TLSFiles]]:
    """A server with a plain port (for set-up) and a TLS port that requires the password
    (skipped, with the server's reason, on a build without TLS)."""
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    port = free_port()
    tls_args = ["--tls-port", str(port), "--tls-cert-file", str(certs.cert), "--tls-key-file"]
    tls_args += [str(certs.key), "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "no"]
    server = RedisServer(
        tmp_path_factory.mktemp("tls"), password=PASSWORD, extra_args=("--requirepass", PASSWORD, *tls_args)
    ).start()
    admin = server.admin()
    admin.set("analysis:stock:AAPL:v1", ENVELOPE, ex=600)
    admin.set("analysis:stock:AAPLX:v1", ENVELOPE, ex=600)
    admin.sadd("llmcache:index:stock:{AAPL}", "analysis:stock:AAPL:v1")
    yield server, port, certs
    server.stop()


def url(port: int, ca: Path) -> str:
    return f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"


@pytest.mark.parametrize(
    "command",
    [
        ["stats", "--json"],
        ["ttl", "--json"],
        ["large-keys", "--json"],
        ["get", "analysis:stock:AAPL:v1", "--json"],
        ["invalidate", "AAPL", "--dry-run", "--json"],
        ["purge-version", "v1", "--dry-run", "--json"],
    ],
    ids=lambda c: c[0],
)
def test_commands_work_over_tls(
    cli: Invoke, tls: tuple[RedisServer, int, TLSFiles], command: list[str]
) -> None:
    """``llmcache --url rediss://... CMD --json``: exit 0, the right figures, no password."""
    server, port, certs = tls
    result = cli("--url", url(port, certs.ca), *command)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    if command[0] == "stats":
        assert data["keyspace"]["keys"] == server.admin().dbsize()
    if command[0] == "invalidate":
        assert data["matched"] == 1 and data["sample_keys"] == ["analysis:stock:AAPL:v1"]
    assert PASSWORD not in result.stdout + result.stderr


def test_wrong_ca_is_one_clear_tls_line(cli: Invoke, tls: tuple[RedisServer, int, TLSFiles]) -> None:
    """A certificate signed by another CA: exit 1, one line that says TLS and certificate."""
    _, port, certs = tls
    result = cli("--url", url(port, certs.other_ca), "--timeout", "2", "stats", "--json")
    line = assert_fails_cleanly(result, 1)
    assert "TLS" in line and "certificate" in line.lower() and PASSWORD not in line


def test_plain_url_to_the_tls_port_fails_within_the_timeout(
    cli: Invoke, tls: tuple[RedisServer, int, TLSFiles]
) -> None:
    """redis:// to a TLS port (the handshake never completes): exit 1, one line."""
    _, port, _ = tls
    result = cli("--url", f"redis://:{PASSWORD}@127.0.0.1:{port}/0", "--timeout", "0.5", "ttl")
    assert_fails_cleanly(result, 1)


def test_library_over_tls(tls: tuple[RedisServer, int, TLSFiles]) -> None:
    """``@cached`` over rediss://: stores, then hits (one real call for two)."""
    _, port, certs = tls
    calls: list[str] = []

    async def go() -> list[str]:
        async with CacheService(url(port, certs.ca), settings=Settings()) as cache:

            @cached(ttl=60, cache=cache)
            async def analyze(symbol: str) -> str:
                calls.append(symbol)
                return symbol.lower()

            return [await analyze("TLS1"), await analyze("TLS1")]

    assert asyncio.run(go()) == ["tls1", "tls1"] and calls == ["TLS1"]
