"""One key, inspected (``llmcache get KEY``): value, meta, TTL, memory.

A string is decoded as the library's envelope, plain JSON, text or binary (``envelope``); a
collection (hash, list, set, sorted set, stream) shows its first ``max_items`` items and its
length. Only bounded reads are used (GETRANGE, LRANGE, HSCAN, ...): a huge key cannot flood the
terminal or this process's memory. In a cluster every read is routed by the key's slot (redis-py's
cluster client), and the view names the primary that holds the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from llmcache_cli.client import RedisHandle
from llmcache_cli.diagnostics.common import display_key, namespace_bytes, namespace_label, ttl_seconds
from llmcache_cli.envelope import decode_entry, meta_number
from llmcache_cli.errors import LLMCacheError
from llmcache_cli.keys import is_internal, key_bytes, parse_key

MAX_ITEMS = 100
MAX_STRING_BYTES = 1024 * 1024


@dataclass(frozen=True)
class EntryView:
    key: str
    type: str
    ttl_seconds: int | None  # None: no TTL
    memory_bytes: int | None
    namespace: str
    data_type: str | None  # None: the key is outside the key schema
    symbol: str | None
    kind: str | None  # strings: envelope, json, text or binary; None for other types
    value: Any  # JSON-ready: the cached result, the text, or the collection's items
    meta: dict[str, Any] | None
    length: int  # bytes of a string, items of a collection
    truncated: bool  # only the first MAX_STRING_BYTES / max_items are shown
    node: str | None = None  # the cluster primary that holds the key (None: a single server)

    @property
    def cost_usd(self) -> float | None:
        return meta_number(self.meta, "cost_usd")


def text(raw: Any) -> Any:
    """Redis bytes as text for display (\\x.. escapes for what is not UTF-8)."""
    return raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw


def read_entry(
    handle: RedisHandle,
    key: str,
    *,
    stock_entities: frozenset[str] = frozenset({"stock"}),
    max_items: int = MAX_ITEMS,
) -> EntryView:
    """Everything ``get`` shows. A missing key is an error (exit 1) with a hint."""
    raw_key = key_bytes(key)
    client = handle.client
    with handle.translated():
        pipe = client.pipeline(transaction=False)
        pipe.type(raw_key)
        pipe.pttl(raw_key)
        pipe.memory_usage(raw_key)
        type_, pttl, memory = pipe.execute(raise_on_error=False)
        type_name = text(type_) if isinstance(type_, (bytes, str)) else "none"
        # TYPE and PTTL are key lookups in INFO's keyspace figures (MEMORY USAGE is not).
        handle.count_key_lookups(raw_key, *((0, 2) if type_name == "none" else (2, 0)))
        if type_name == "none":
            raise LLMCacheError(
                f"key {key!r} does not exist in {handle.url.redacted}",
                hint="keys are case-sensitive; 'llmcache large-keys --pattern GLOB' lists keys",
            )
        try:
            reads = [0]
            kind, value, meta, length, truncated = _value(client, raw_key, type_name, max_items, reads)
            handle.count_key_lookups(raw_key, reads[0])
        except ResponseError as exc:  # WRONGTYPE: it was replaced by another type meanwhile
            raise LLMCacheError(
                f"key {key!r} changed while being read: {exc}", hint="run the command again"
            ) from None
    if kind is None and type_name == "string":
        raise LLMCacheError(f"key {key!r} vanished while being read", hint="it expired or was deleted")
    # llmcache's own bookkeeping (index sets, counters, locks) holds no data type or symbol
    parsed = None if is_internal(raw_key) else parse_key(raw_key)
    node = handle.nodes[handle.node_index(raw_key)].name if handle.is_cluster else None
    return EntryView(
        key=display_key(raw_key),
        type=type_name,
        ttl_seconds=ttl_seconds(pttl) if isinstance(pttl, int) else None,
        memory_bytes=memory if isinstance(memory, int) else None,
        namespace=namespace_label(namespace_bytes(raw_key)),
        data_type=parsed.data_type if parsed else None,
        symbol=parsed.symbol(stock_entities) if parsed else None,
        kind=kind,
        value=value,
        meta=meta,
        length=length,
        truncated=truncated,
        node=node,
    )


def _value(
    client: Any, key: bytes, type_name: str, limit: int, reads: list[int]
) -> tuple[str | None, Any, Any, int, bool]:
    """(kind, value, meta, length, truncated) for one type; bounded reads only. ``reads[0]``
    counts the key lookups made (each command below reads the key once)."""
    if type_name == "string":
        reads[0] += 3
        pipe = client.pipeline(transaction=False)
        pipe.strlen(key)
        pipe.getrange(key, 0, MAX_STRING_BYTES - 1)
        pipe.exists(key)
        length, raw, exists = pipe.execute()
        if not exists:
            return None, None, None, 0, False
        if length > MAX_STRING_BYTES:
            return "text", text(raw), None, length, True
        entry = decode_entry(raw)
        value = text(entry.result) if entry.kind == "binary" else entry.result
        return entry.kind, value, entry.meta, length, False
    if type_name in ("list", "zset", "stream"):
        reads[0] += 2
    if type_name == "list":
        length = client.llen(key)
        items = [text(v) for v in client.lrange(key, 0, limit - 1)]
        return None, items, None, length, length > len(items)
    if type_name == "hash":
        length = client.hlen(key)
        fields = _scan_collection(lambda cursor: client.hscan(key, cursor, count=limit), limit, reads)
        return None, {text(k): text(v) for k, v in fields}, None, length, length > len(fields)
    if type_name == "set":
        length = client.scard(key)
        members = _scan_collection(
            lambda cursor: _pairs(client.sscan(key, cursor, count=limit)), limit, reads
        )
        return None, sorted(text(m) for m, _ in members), None, length, length > len(members)
    if type_name == "zset":
        length = client.zcard(key)
        items = [[text(m), s] for m, s in client.zrange(key, 0, limit - 1, withscores=True)]
        return None, items, None, length, length > len(items)
    if type_name == "stream":
        length = client.xlen(key)
        items = [
            {"id": text(entry_id), "fields": {text(k): text(v) for k, v in fields.items()}}
            for entry_id, fields in client.xrange(key, count=limit)
        ]
        return None, items, None, length, length > len(items)
    return None, None, None, 0, False  # a module type: only type, TTL and memory are shown


def _pairs(reply: tuple[int, list[Any]]) -> tuple[int, list[tuple[Any, None]]]:
    cursor, members = reply
    return cursor, [(m, None) for m in members]


def _scan_collection(step: Any, limit: int, reads: list[int]) -> list[tuple[Any, Any]]:
    items: list[tuple[Any, Any]] = []
    cursor = 0
    reads[0] += 1  # HLEN / SCARD
    while True:
        reads[0] += 1
        cursor, batch = step(cursor)
        items.extend(batch.items() if isinstance(batch, dict) else batch)
        if cursor == 0 or len(items) >= limit:
            return items[:limit]
