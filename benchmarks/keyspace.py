"""A realistic LLM-cache keyspace for the benchmarks, written fast with pipelines.

Several namespaces (data types), LLM-sized JSON envelopes (about 0.5 to 4 KB), most keys with a
TTL and some without, and some keys of other Redis types, plus the adversarial neighbours of
the symbol the invalidation benchmark removes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import redis

NAMESPACES = ("analysis", "sentiment", "technical", "fundamental", "earnings", "chatbot")
TARGET_SYMBOL = "AAPL"


@dataclass(frozen=True)
class Keyspace:
    keys: int
    target_symbol_keys: int


def _symbols(n: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rng = random.Random(7)
    out = {TARGET_SYMBOL, "AAPLX", "AAPL.X"}
    while len(out) < n:
        out.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 5))))
    return sorted(out)


def build(client: redis.Redis, n_keys: int = 800_000, seed: int = 1, batch: int = 5000) -> Keyspace:
    """Flush the database and write ``n_keys`` keys. Returns what was written."""
    rng = random.Random(seed)
    symbols = _symbols(2000)
    client.flushdb()
    bodies = [
        json.dumps(
            {
                "result": {"summary": "x" * size, "score": 0.5},
                "meta": {
                    "model": "claude-sonnet-4-5",
                    "input_tokens": 900,
                    "output_tokens": size // 4,
                    "cost_usd": round(0.0027 + size * 0.000004, 6),
                    "latency_ms": 800,
                },
            }
        )
        for size in (400, 900, 1500, 2500, 3800)
    ]
    written = target = 0
    pipe = client.pipeline(transaction=False)
    i = 0
    while written < n_keys:
        kind = rng.random()
        symbol = symbols[i % len(symbols)]
        ns = NAMESPACES[(i // len(symbols)) % len(NAMESPACES)]
        key = f"{ns}:stock:{symbol}:{i}"
        if kind < 0.97:
            ttl = rng.choice((300, 900, 3600, 86400, 604800)) if kind < 0.90 else None
            pipe.set(key, bodies[i % len(bodies)], ex=ttl)
        elif kind < 0.985:
            pipe.hset(key, mapping={"a": "1", "b": "x" * 200})
        else:
            pipe.rpush(key, *["item"] * 20)
        target += symbol == TARGET_SYMBOL
        written += 1
        i += 1
        if written % batch == 0:
            pipe.execute()
    pipe.execute()
    return Keyspace(keys=written, target_symbol_keys=target)
