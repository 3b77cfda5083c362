"""The largest keys by ``MEMORY USAGE``, and memory by namespace (``llmcache large-keys``).

One ``MEMORY USAGE`` per key, pipelined per SCAN batch; client memory stays bounded: a min-heap
of the ``top`` largest keys and one running total per namespace, never a list of every key.
TYPE and TTL are only asked for the keys that made the top, at the end; a key that vanished in
between is left out of the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmcache_cli.diagnostics.common import (
    NamespaceTally,
    NamespaceUsage,
    Top,
    describe_keys,
    display_key,
    namespace_bytes,
    namespace_label,
    ttl_seconds,
)
from llmcache_cli.keys import key_text
from llmcache_cli.pace import Pace, Pacers

if TYPE_CHECKING:  # redis-py is imported by the live scan only (not for a snapshot)
    from llmcache_cli.client import Node, RedisHandle
    from llmcache_cli.scan import BatchScan

Progress = Callable[[int], None]


@dataclass(frozen=True)
class LargeKey:
    key: str
    bytes: int
    type: str
    ttl_seconds: int | None  # None: no TTL
    namespace: str


@dataclass(frozen=True)
class LargeKeysReport:
    scanned: int  # keys examined (that still existed when measured)
    vanished: int  # keys SCAN returned that were gone before MEMORY USAGE
    top: int
    samples: int | None
    pattern: str | None
    keys: tuple[LargeKey, ...]  # largest first
    namespaces: tuple[NamespaceUsage, ...]  # largest memory first
    total_memory_bytes: int
    partial: bool  # interrupted (Ctrl-C): figures cover the keys scanned so far
    pace: Pace | None = None  # --pace: the server CPU share the scan kept to


def memory_command(samples: int | None) -> tuple[Any, ...]:
    from llmcache_cli.scan import KEY

    if samples is None:
        return ("MEMORY", "USAGE", KEY)
    return ("MEMORY", "USAGE", KEY, "SAMPLES", samples)


def find_large_keys(
    handle: RedisHandle,
    *,
    top: int = 10,
    samples: int | None = None,
    pattern: str | None = None,
    on_progress: Progress | None = None,
    pace: float | None = None,
) -> LargeKeysReport:
    """Scan every primary (a cluster's concurrently); Ctrl-C stops the scan and returns what
    was found (``partial``). TYPE and TTL of the winners are routed by slot."""
    from llmcache_cli.scan import KeyCommands, each_node, scan_batches

    if top < 1:
        raise ValueError("top must be at least 1")
    commands = KeyCommands(memory_command(samples))
    top_keys = Top(top)  # (bytes, key)
    tally = NamespaceTally()
    vanished = 0
    partial = False
    pacers = Pacers(pace)

    def node_batches(i: int, node: Node) -> BatchScan:
        return scan_batches(node, commands, match=pattern, on_page=pacers.hook(i, node.client))

    try:
        with each_node(handle, node_batches) as scan:
            for _, batch in scan:
                vanished += tally.add_batch(batch.keys, batch.replies)
                for size, key in zip(batch.replies, batch.keys, strict=True):
                    if size.__class__ is int and size >= top_keys.floor:  # nil: the key vanished
                        top_keys.offer((size, key))
                if on_progress is not None:
                    on_progress(len(batch.keys))
    except KeyboardInterrupt:
        partial = True
    largest = top_keys.largest()
    return LargeKeysReport(
        scanned=tally.keys,
        vanished=vanished,
        top=top,
        samples=samples,
        pattern=None if pattern is None else key_text(pattern),
        keys=_describe(handle, largest),
        namespaces=tally.rows(),
        total_memory_bytes=tally.memory_bytes,
        partial=partial,
        pace=pacers.result(),
    )


def _describe(handle: RedisHandle, largest: list[tuple[int, bytes]]) -> tuple[LargeKey, ...]:
    """TYPE and TTL of the winners; keys gone since they were measured are left out."""
    facts = describe_keys(handle, [key for _, key in largest])
    out = []
    for size, key in largest:
        fact = facts[key]
        if fact.type == "none" or fact.pttl_ms == -2:
            continue
        out.append(
            LargeKey(
                key=display_key(key),
                bytes=size,
                type=fact.type,
                ttl_seconds=ttl_seconds(fact.pttl_ms),
                namespace=namespace_label(namespace_bytes(key)),
            )
        )
    return tuple(out)
