from __future__ import annotations

import pytest

from llmcache_cli.errors import UsageError
from llmcache_cli.urls import DEFAULT_URL, Redactor, parse_redis_url, redact_url, resolve_url


def test_resolution_order_flag_then_envs_then_default() -> None:
    env = {"LLMCACHE_REDIS_URL": "redis://a:1/0", "REDIS_URL": "redis://b:2/0"}
    assert resolve_url("redis://flag:3/0", env) == ("redis://flag:3/0", "--url")
    assert resolve_url(None, env) == ("redis://a:1/0", "LLMCACHE_REDIS_URL")
    assert resolve_url(None, {"REDIS_URL": "redis://b:2/0"}) == ("redis://b:2/0", "REDIS_URL")
    assert resolve_url(None, {}) == (DEFAULT_URL, "default")
    assert resolve_url(None, {"LLMCACHE_REDIS_URL": "", "REDIS_URL": "redis://b:2/0"})[1] == "REDIS_URL"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://alice:s3cret@host/2", "redis://alice:***@host/2"),
        ("rediss://alice:p%40ss@host:6380", "rediss://alice:***@host:6380"),
        ("redis://alice@host", "redis://alice@host"),
        ("unix://:pw@/run/redis.sock?db=3", "unix://:***@/run/redis.sock?db=3"),
        ("redis://host/0?password=s3cret&db=1", "redis://host/0?password=***&db=1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url, scheme",
    [
        ("redis://localhost:6379/0", "redis"),
        ("rediss://h:6380/1", "rediss"),
        ("unix:///tmp/redis.sock", "unix"),
        ("unix:///tmp/r.sock?db=2", "unix"),
        ("REDIS://h", "redis"),
    ],
)
def test_accepted_urls(url: str, scheme: str) -> None:
    assert parse_redis_url(url).scheme == scheme


@pytest.mark.parametrize(
    "url, username, db",
    [
        ("redis://localhost:6379", None, 0),
        ("redis://ops:pw@h:6379/3", "ops", 3),
        ("redis://ro%20user:pw@h/2", "ro user", 2),
        ("redis://my%40user:pw@h", "my@user", 0),
        ("unix:///tmp/r.sock?db=2", None, 2),
    ],
)
def test_user_and_database_are_read_once(url: str, username: str | None, db: int) -> None:
    parsed = parse_redis_url(url)
    assert (parsed.username, parsed.db) == (username, db)


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://host:6379", "unsupported"),
        ("localhost:6379", "unsupported"),
        ("redis://host:port/0", "Port could not be cast"),
        ("redis://host:99999/0", "out of range"),
        ("redis://host/abc", "not a number"),
        ("redis://:6379/0", "no host"),
        ("unix://", "no socket path"),
        ("", "empty"),
        (" redis://h", "spaces"),
    ],
)
def test_malformed_urls_are_usage_errors(url: str, words: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_redis_url(url)
    assert words in info.value.one_line()


def test_malformed_url_error_never_shows_password() -> None:
    with pytest.raises(UsageError) as info:
        parse_redis_url("redis://:hunter2@host:nope/0")
    assert "hunter2" not in info.value.one_line()


def test_redactor_masks_raw_and_decoded_secrets() -> None:
    redact = Redactor(["p%40ss"])
    assert redact("auth p@ss and p%40ss") == "auth *** and ***"
    assert Redactor()("nothing to hide") == "nothing to hide"
