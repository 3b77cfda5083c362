"""A small mixed keyspace for the operator-report tests: every Redis type in one database,
envelopes and values that are not JSON, keys with and without TTL, llmcache's counter hashes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from llmcache_cli.envelope import encode_envelope
from llmcache_cli.keys import stats_key


@dataclass(frozen=True)
class Mixed:
    keys: int  # keys written
    no_ttl: int  # keys written without a TTL


def envelope(size: int, cost: float = 0.004) -> bytes:
    meta = {"model": "claude-sonnet-4-5", "input_tokens": 900, "output_tokens": 120, "cost_usd": cost}
    return encode_envelope({"summary": "x" * size, "score": 0.5}, meta)


def build_mixed(client: redis.Redis, entries: int = 300) -> Mixed:
    """``entries`` envelope keys over several namespaces, plus one key of every other kind."""
    pipe = client.pipeline(transaction=False)
    written = no_ttl = 0
    namespaces = ("analysis", "sentiment", "technical", "fundamental", "chatbot")
    for i in range(entries):
        ns = namespaces[i % len(namespaces)]
        key = f"{ns}:stock:S{i % 40}:{i}"
        if i % 10 == 0:
            pipe.set(key, envelope(100 + i))
            no_ttl += 1
        else:
            pipe.set(key, envelope(100 + i), ex=60 * (1 + i % 50))
        written += 1
    others = {
        "analysis:stock:AAPL:v1": ("string", envelope(2000, cost=0.02), 3000),
        "analysis:stock:AAPLX:v1": ("string", envelope(50), 3000),
        "sentiment:stock:TSLA:v1": ("string", envelope(50), 3000),  # volatile: policy max 1800
        "technical:stock:AAPL:v1": ("string", envelope(50), 7200),  # policy max 1800: over
        "plain:json:doc": ("string", json.dumps({"a": [1, 2, 3]}).encode(), None),
        "plain:text:doc": ("string", b"not json at all", 600),
        "plain:binary:doc": ("string", b"\xff\xfe\x00binary", None),
        "standalone": ("string", b"no namespace here", None),
        "h:stock:AAPL": ("hash", {"f1": "v1", "f2": "x" * 300}, 900),
        "l:stock:AAPL": ("list", ["a", "b", "c"], None),
        "s:stock:MSFT": ("set", ["m1", "m2"], 900),
        "z:stock:MSFT": ("zset", {"m1": 1.0, "m2": 2.5}, None),
        "x:stock:MSFT": ("stream", {"field": "value"}, 900),
    }
    for key, (kind, value, ttl) in others.items():
        if kind == "string":
            pipe.set(key, value)
        elif kind == "hash":
            pipe.hset(key, mapping=value)
        elif kind == "list":
            pipe.rpush(key, *value)
        elif kind == "set":
            pipe.sadd(key, *value)
        elif kind == "zset":
            pipe.zadd(key, value)
        else:
            pipe.xadd(key, value)
        if ttl:
            pipe.expire(key, ttl)
        else:
            no_ttl += 1
        written += 1
    for ns, (hits, misses, spent, saved, ms) in {
        "analysis": (70, 30, 0.3, 0.7, 56000.0),
        "sentiment": (0, 4, 0.04, 0.0, 0.0),
    }.items():
        key = stats_key(ns)
        pipe.hset(key, mapping={"hits": hits, "misses": misses})
        pipe.hincrbyfloat(key, "cost_spent_usd", spent)
        pipe.hincrbyfloat(key, "cost_saved_usd", saved)
        pipe.hincrbyfloat(key, "time_saved_ms", ms)
        written += 1
        no_ttl += 1
    pipe.execute()
    return Mixed(keys=written, no_ttl=no_ttl)


def independent_sizes(client: redis.Redis, samples: int | None = None) -> dict[bytes, int]:
    """MEMORY USAGE of every key, found by a plain SCAN: the reference the reports must match."""
    out = {}
    for key in client.scan_iter(count=500):
        size = client.memory_usage(key) if samples is None else client.memory_usage(key, samples=samples)
        if size is not None:
            out[key] = size
    return out
