from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from llmcache_cli.client import ClientOptions, RedisHandle, connect
from tests.cli.conftest import cli  # noqa: F401  (the in-process CLI runner)
from tests.diagnostics.mixed import Mixed, build_mixed


@pytest.fixture
def handle(redis_url: str) -> Iterator[RedisHandle]:
    with connect(ClientOptions.from_flags(redis_url)) as h:
        yield h


@pytest.fixture
def mixed(real_redis: redis.Redis) -> Mixed:
    return build_mixed(real_redis)


def fill_entries(client: redis.Redis, count: int, **set_options: object) -> None:
    """``count`` small entries ``analysis:stock:S{i}:v1`` (value ``x``), in one pipeline."""
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"analysis:stock:S{i}:v1", "x", **set_options)  # type: ignore[arg-type]
    pipe.execute()


def interrupt(_: int) -> None:
    """A progress callback that acts as Ctrl-C at the first page."""
    raise KeyboardInterrupt
