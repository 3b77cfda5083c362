"""The one definition of each limit, and the places that apply it agree."""

from __future__ import annotations

import math

import pytest

from llmcache_cli.config import settings_from_mapping
from llmcache_cli.durations import parse_duration
from llmcache_cli.errors import ConfigError, UsageError
from llmcache_cli.limits import MAX_TIMEOUT_SECONDS, MAX_TTL_SECONDS, check_ttl, is_timeout, is_ttl
from llmcache_cli.ttl_policy import FlatPolicy, make_policy
from llmcache_cli.urls import ClientOptions


@pytest.mark.parametrize("value", [1, 60, MAX_TTL_SECONDS])
def test_ttls_accepted_everywhere(value: int) -> None:
    assert is_ttl(value) and check_ttl(value) == value
    assert FlatPolicy(value).max_ttl("analysis") == value
    assert parse_duration(str(value)) == value
    assert settings_from_mapping({"ttl": {"flat_seconds": value}}).ttl.flat_seconds == value


@pytest.mark.parametrize("value", [0, -1, MAX_TTL_SECONDS + 1, True, 1.5, "60"])
def test_ttls_refused_everywhere(value: object) -> None:
    assert not is_ttl(value)
    with pytest.raises(ValueError, match="ten years"):
        check_ttl(value)
    with pytest.raises(ValueError):
        FlatPolicy(value)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        make_policy(settings_from_mapping({}), flat_seconds=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        settings_from_mapping({"ttl": {"flat_seconds": value}})


def test_the_duration_parser_caps_at_the_same_ten_years() -> None:
    assert parse_duration("3650d") == MAX_TTL_SECONDS
    with pytest.raises(UsageError, match="ten years"):
        parse_duration("3651d")


@pytest.mark.parametrize("value", [0.001, 5, MAX_TIMEOUT_SECONDS])
def test_timeouts_accepted(value: float) -> None:
    assert is_timeout(value)
    assert ClientOptions.from_flags(None, value).timeout == value
    assert settings_from_mapping({"redis": {"timeout": value}}).timeout_seconds == value


@pytest.mark.parametrize("value", [0, -1, MAX_TIMEOUT_SECONDS * 2, math.inf, math.nan, True])
def test_timeouts_refused(value: float) -> None:
    assert not is_timeout(value)
    with pytest.raises(UsageError):
        ClientOptions.from_flags(None, value)
    with pytest.raises(ConfigError):
        settings_from_mapping({"redis": {"timeout": value}})
