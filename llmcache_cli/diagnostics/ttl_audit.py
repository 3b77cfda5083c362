"""TTL inspection (``llmcache ttl``): histogram, per-data-type TTLs against the policy, leaks.

Every key gets ``PTTL`` and ``MEMORY USAGE`` (one read-only script per SCAN page, or pipelined;
see ``per_key``). The counts are exact on a full scan (the default); ``sample`` looks at about
that many keys only. The keys listed (no TTL: largest first; over the policy: furthest over
first) are capped at ``limit``; the remaining TTLs are counted per whole second and data type,
for the medians (a count per distinct second, not a number per key).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmcache_cli.client import Node, RedisHandle
from llmcache_cli.diagnostics import per_key
from llmcache_cli.diagnostics.common import KeyFacts, describe_keys
from llmcache_cli.diagnostics.own_reads import pttl_lookups
from llmcache_cli.diagnostics.ttl_tally import (
    BOOKKEEPING,
    BUCKETS,
    NO_TTL_LABEL,
    OTHER,
    KeyGroup,
    NoTTLKey,
    OverPolicyKey,
    TTLTally,
    TypeTTL,
)
from llmcache_cli.keys import key_bytes, key_has_symbol, key_text, symbol_match_patterns
from llmcache_cli.pace import Pace, Pacers
from llmcache_cli.scan import SCAN_COUNT, Batch, BatchScan, each_node, scan_batches
from llmcache_cli.ttl_policy import TTLPolicy

Progress = Callable[[int], None]


@dataclass(frozen=True)
class TTLBucket:
    label: str
    max_seconds: int | None  # exclusive upper bound; None: unbounded or no TTL
    keys: int
    memory_bytes: int


@dataclass(frozen=True)
class TTLReport:
    policy: str
    selection: str  # what was looked at, in words
    exact: bool  # every selected key was looked at (False: a sample)
    partial: bool  # interrupted (Ctrl-C)
    scanned: int  # keys examined that still existed (cache entries, bookkeeping and other)
    vanished: int  # keys SCAN returned that were gone before PTTL
    no_ttl: int  # cache entries without a TTL
    over_policy: int
    buckets: tuple[TTLBucket, ...]  # of the cache entries: BUCKETS, then "no TTL"
    data_types: tuple[TypeTTL, ...]
    bookkeeping: KeyGroup  # llmcache's own keys (llmcache:...): counted, never judged
    other: KeyGroup  # keys outside the cache's namespaces: counted, never judged
    no_ttl_keys: tuple[NoTTLKey, ...]  # at most limit, largest memory first
    over_policy_keys: tuple[OverPolicyKey, ...]  # at most limit, furthest over first
    limit: int
    pace: Pace | None = None  # --pace: the server CPU share the scan kept to
    method: str | None = None  # how PTTL and MEMORY USAGE were read (see per_key); None: a snapshot


def inspect_ttls(
    handle: RedisHandle,
    policy: TTLPolicy,
    *,
    stock_entities: Collection[str] = ("stock",),
    cache_namespaces: Collection[str] = (),
    pattern: str | None = None,
    symbol: str | None = None,
    keys: Sequence[str] | None = None,
    sample: int | None = None,
    limit: int = 20,
    on_progress: Progress | None = None,
    pace: float | None = None,
    in_server: bool = False,
) -> TTLReport:
    """Look at the selected keys (all by default); Ctrl-C returns what was gathered.
    ``in_server``: MEMORY USAGE and PTTL in a read-only script per SCAN page where the server
    runs it (see ``per_key``), pipelined otherwise."""
    if sum(x is not None for x in (pattern, symbol, keys)) > 1:
        raise ValueError("choose one of pattern, symbol and keys")
    tally = TTLTally(policy, stock_entities, limit, cache_namespaces)
    partial = False
    exact = sample is None
    pacers = Pacers(pace)
    methods: dict[int, str] = {}
    try:
        if keys is not None:
            _named_keys(handle, tally, list(dict.fromkeys(map(key_bytes, keys))))
            exact = True
        else:
            exact = _scan(
                handle,
                tally,
                pattern,
                symbol,
                stock_entities,
                sample,
                on_progress,
                pacers,
                methods,
                in_server,
            )
    except KeyboardInterrupt:
        partial = True
    listed = tally.no_ttl_keys.held_keys()
    facts = describe_keys(handle, listed)
    return ttl_report(
        tally,
        facts,
        policy=policy.name,
        selection=_selection(pattern, symbol, keys, sample),
        exact=exact and not partial,
        partial=partial,
        limit=limit,
        pace=pacers.result(),
        method=per_key.method_name(list(methods.values())),
    )


def ttl_report(
    tally: TTLTally,
    facts: Mapping[bytes, KeyFacts],
    *,
    policy: str,
    selection: str,
    exact: bool,
    partial: bool,
    limit: int,
    **how: Any,
) -> TTLReport:
    """The report of a finished tally, live or from a snapshot (``how``: pace, method)."""
    buckets = [
        TTLBucket(label, bound, tally.bucket_keys[i], tally.bucket_memory[i])
        for i, (bound, label) in enumerate(BUCKETS)
    ]
    buckets.append(TTLBucket(NO_TTL_LABEL, None, tally.bucket_keys[-1], tally.bucket_memory[-1]))
    return TTLReport(
        policy=policy,
        selection=selection,
        exact=exact,
        partial=partial,
        scanned=tally.keys,
        vanished=tally.vanished,
        no_ttl=tally.bucket_keys[-1],
        over_policy=tally.over_policy,
        buckets=tuple(buckets),
        data_types=tally.type_rows(),
        bookkeeping=tally.apart(BOOKKEEPING),
        other=tally.apart(OTHER),
        no_ttl_keys=tally.no_ttl_rows(facts),
        over_policy_keys=tally.over_rows(),
        limit=limit,
        **how,
    )


def _selection(
    pattern: str | None, symbol: str | None, keys: Sequence[str] | None, sample: int | None
) -> str:
    if keys is not None:
        return "keys " + ", ".join(map(key_text, keys))
    if pattern:
        what = f"keys matching {key_text(pattern)}"
    else:
        what = f"keys of symbol {key_text(symbol)}" if symbol else "keys"
    if sample:
        return f"a sample of about {sample} {what}"
    return what if pattern or symbol else "all keys"


def _scan(
    handle: RedisHandle,
    tally: TTLTally,
    pattern: str | None,
    symbol: str | None,
    stock_entities: Collection[str],
    sample: int | None,
    on_progress: Progress | None,
    pacers: Pacers,
    methods: dict[int, str],
    in_server: bool,
) -> bool:
    """Feed the tally from every primary (a cluster's concurrently); True when every selected
    key was looked at (a sample may cover all)."""
    matches: list[str | None] = [pattern]
    entities = tuple(stock_entities)
    if symbol is not None:
        matches = list(symbol_match_patterns(symbol, entities))
    per_node = None if sample is None else max(1, math.ceil(sample / len(handle.nodes)))
    count = SCAN_COUNT if per_node is None else min(SCAN_COUNT, per_node)
    scans: list[BatchScan] = []

    def node_batches(i: int, node: Node) -> Iterator[Batch]:
        keep = None
        on_page = pacers.hook(i, node.client)
        method, probed = per_key.method_for(node, in_server)
        methods[i] = method
        handle.count_lookups(i, probed)  # the probe's PTTL of an existing key
        if symbol is not None:
            seen: set[bytes] = set()  # a key lives on one primary: one set per primary

            def keep(key: bytes) -> bool:  # confirm the superset SCAN MATCH found; count each once
                if key in seen or not key_has_symbol(key, symbol, entities):
                    return False
                if len(matches) > 1:
                    seen.add(key)
                return True

        for match in matches:
            batches = scan_batches(
                node,
                per_key.commands(method),
                match=match,
                count=count,
                max_keys=per_node,
                keep=keep,
                on_page=on_page,
                script=per_key.page_script(method),
            )
            scans.append(batches)
            yield from batches

    with each_node(handle, node_batches) as scan:
        for node, batch in scan:
            memories, pttls = per_key.split(batch)
            tally.add_batch(batch.keys, pttls, memories)
            handle.count_lookups(node, *pttl_lookups(pttls))
            if on_progress is not None:
                on_progress(len(batch.keys))
    return all(batches.complete for batches in scans)


def _named_keys(handle: RedisHandle, tally: TTLTally, keys: list[bytes]) -> None:
    with handle.translated():
        pipe = handle.client.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(key)
            pipe.memory_usage(key)
        replies = pipe.execute(raise_on_error=False)
    tally.add_batch(keys, replies[0::2], replies[1::2])
    for key, pttl in zip(keys, replies[0::2], strict=True):
        handle.count_key_lookups(key, *pttl_lookups([pttl]))
