from __future__ import annotations

import redis

from tests.cli.conftest import cli, mixed  # noqa: F401  (the in-process CLI runner; the mixed keyspace)


def fill_entries(client: redis.Redis, count: int, **set_options: object) -> None:
    """``count`` small entries ``analysis:stock:S{i}:v1`` (value ``x``), in one pipeline."""
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"analysis:stock:S{i}:v1", "x", **set_options)  # type: ignore[arg-type]
    pipe.execute()


def interrupt(_: int) -> None:
    """A progress callback that acts as Ctrl-C at the first page."""
    raise KeyboardInterrupt
