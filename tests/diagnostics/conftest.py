from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from llmcache_cli.client import ClientOptions, RedisHandle, connect
from tests.diagnostics.mixed import Mixed, build_mixed


@pytest.fixture
def handle(redis_url: str) -> Iterator[RedisHandle]:
    with connect(ClientOptions.from_flags(redis_url)) as h:
        yield h


@pytest.fixture
def mixed(real_redis: redis.Redis) -> Mixed:
    return build_mixed(real_redis)
