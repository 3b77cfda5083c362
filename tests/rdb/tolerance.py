"""How close a snapshot's memory figures come to the server's own, for the server the tests
run on (``make test-servers`` runs them on Redis 6.2, 7.0 and Valkey 8.1): strings equal on a
jemalloc build; within 16 bytes on a glibc build (glibc may hand out a chunk 16 bytes bigger
than asked); within 16 bytes or 10% on Valkey 8 (it re-allocates an object when SET ... EX adds
the expiry); collections within 10% (the server averages five elements)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class Model:
    allocator: str  # for SnapshotSource / --allocator
    valkey: bool

    def slack(self, live: int, type_: str = "string") -> float:
        if type_ != "string":
            return max(16, 0.1 * live)
        if self.valkey:
            return max(16, live // 10)
        return 0 if self.allocator == "jemalloc" else 16

    def close(self, estimate: int, live: int, type_: str = "string") -> bool:
        return abs(estimate - live) <= self.slack(live, type_)

    @property
    def total_share(self) -> float:
        """How far a sum over many keys may be off, as a fraction."""
        return 0.01 if self.allocator == "jemalloc" and not self.valkey else 0.05


def model_of(client: redis.Redis) -> Model:
    server = client.info("server")
    allocator = str(client.info("memory").get("mem_allocator", "jemalloc"))
    valkey = server.get("server_name") == "valkey" or "valkey_version" in server
    return Model("jemalloc" if allocator.startswith("jemalloc") else "libc", valkey)


def assert_same_top(
    model: Model, mine: Sequence[tuple[str, int, str]], live: Sequence[tuple[str, int, str]]
) -> None:
    """(key, bytes, type) lists, largest first: each key both list is close in size, and every
    key the live list holds clearly above its cut is in the snapshot's too."""
    assert len(mine) == len(live)
    live_sizes = {key: size for key, size, _ in live}
    for key, size, type_ in mine:
        if key in live_sizes:
            assert model.close(size, live_sizes[key], type_), (key, size, live_sizes[key])
    cut = min(size for _, size, _ in live)
    ours = {key for key, _, _ in mine}
    for key, size, type_ in live:
        if size > cut + 2 * model.slack(size, type_):
            assert key in ours, (key, size)
