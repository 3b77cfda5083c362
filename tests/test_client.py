"""The shared client module against a real redis-server (and dead or silent endpoints)."""

from __future__ import annotations

import time

import pytest
import redis

from llmcache_cli.client import ClientOptions, connect
from llmcache_cli.errors import AuthenticationFailed, ConnectionFailed, PermissionDenied, UsageError
from tests.support.servers import RedisServer, free_port


@pytest.mark.redis
def test_connect_single_node(redis_url: str) -> None:
    with connect(ClientOptions.from_flags(redis_url, 2.0)) as handle:
        assert not handle.is_cluster
        assert len(handle.nodes) == 1
        assert handle.client.ping()


def test_refused_is_connection_failed_with_redacted_url() -> None:
    port = free_port()
    options = ClientOptions.from_flags(f"redis://:s3cret@127.0.0.1:{port}/0", 1.0)
    with pytest.raises(ConnectionFailed) as info:
        connect(options)
    line = info.value.one_line()
    assert "s3cret" not in line and f"redis://:***@127.0.0.1:{port}/0" in line and "running" in line


def test_silent_server_times_out_within_the_timeout(silent_port: int) -> None:
    options = ClientOptions.from_flags(f"redis://:pw@127.0.0.1:{silent_port}/0", 0.5)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as info:
        connect(options)
    assert time.monotonic() - started < 3.0
    assert "did not answer within 0.5s" in info.value.one_line()
    assert ":pw@" not in info.value.one_line()


def test_timeout_must_be_positive() -> None:
    with pytest.raises(UsageError):
        ClientOptions.from_flags("redis://h", 0)


@pytest.mark.redis
def test_wrong_password_and_missing_permission(real_redis: redis.Redis, redis_server: RedisServer) -> None:
    real_redis.acl_setuser(
        "reader",
        enabled=True,
        passwords=["+goodpw"],
        keys=["*"],
        commands=["+@read", "+ping", "+info", "-@dangerous"],
        reset=True,
    )
    try:
        bad = ClientOptions.from_flags(f"redis://reader:badpw@127.0.0.1:{redis_server.port}/0", 2.0)
        with pytest.raises(AuthenticationFailed) as info:
            connect(bad)
        assert "badpw" not in info.value.one_line()
        good = ClientOptions.from_flags(f"redis://reader:goodpw@127.0.0.1:{redis_server.port}/0", 2.0)
        with connect(good) as handle, pytest.raises(PermissionDenied) as denied, handle.translated():
            handle.client.set("x", "1")
        assert "goodpw" not in denied.value.one_line() and "ACL" in denied.value.one_line()
        assert "ACL user 'reader'" in denied.value.one_line() and "'set' command" in denied.value.one_line()
    finally:
        real_redis.acl_deluser("reader")
