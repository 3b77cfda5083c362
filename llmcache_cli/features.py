"""What this server can do beyond what every supported server (Redis 6.2+, Valkey) has.

Detected from the server itself, never from its version string (Valkey 8 calls itself Redis
7.2.4 there): ``COMMAND INFO`` names each command or subcommand the server knows (an unknown
one is nil, on 6.2 too), and ``COMMAND DOCS expire`` lists EXPIRE's options (Redis 7.0+ and
Valkey; a server without COMMAND DOCS cannot say, and the feature is reported unknown). Both
are one round trip, on the first primary. The ACL rules in the README grant ``command|info``
and ``command|docs`` to the operators; a server that refuses them anyway gives ``None``s.

The library does not ask: it has no COMMAND in its ACL rule, and finds out about EXPIRE NX/GT by
using it (a server without it refuses the option, and the index TTL falls back to a script).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
import redis.exceptions as rex


@dataclass(frozen=True)
class Feature:
    name: str  # the key in ``ServerFeatures.present`` and in ``stats --json``
    command: str  # as the server's docs write it
    probe: str  # the COMMAND INFO name, or "" for an option (COMMAND DOCS)
    llmcache: str  # what llmcache does with it, and without it


FEATURES = (
    Feature(
        "expire_nx_gt",
        "EXPIRE ... NX / GT",
        "",
        "the library extends a per-symbol index's TTL in the store pipeline; without it, a Lua "
        "script (EVALSHA), or TTL then EXPIRE when scripts are refused",
    ),
    Feature(
        "eval_ro",
        "EVAL_RO / EVALSHA_RO",
        "evalsha_ro",
        "stats --full and ttl read MEMORY USAGE and PTTL in one script per SCAN page (pipelined "
        "without it); the library does not need it (its lookups are MGET)",
    ),
    Feature("function", "FUNCTION", "function", "not used: scripts are loaded with SCRIPT LOAD"),
    Feature("client_no_evict", "CLIENT NO-EVICT", "client|no-evict", "not used"),
    Feature("client_setinfo", "CLIENT SETINFO", "client|setinfo", "not sent: redis-py's is switched off"),
    Feature("latency_histogram", "LATENCY HISTOGRAM", "latency|histogram", "not used"),
)


@dataclass(frozen=True)
class ServerFeatures:
    """Feature name -> True (has it), False (lacks it) or None (the server could not say)."""

    present: Mapping[str, bool | None]

    def has(self, name: str) -> bool | None:
        return self.present[name]


def _raw(client: redis.Redis, *args: str) -> Any:
    """One command without redis-py's reply parsing (its COMMAND parser fails on nil entries)."""
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command(*args)
        try:
            return conn.read_response()
        except rex.ResponseError as exc:
            return exc
    finally:
        pool.release(conn)


def _leaves(reply: Any) -> list[Any]:
    if isinstance(reply, Mapping):
        return [leaf for key, value in reply.items() for leaf in (*_leaves(key), *_leaves(value))]
    if isinstance(reply, (list, tuple)):
        return [leaf for item in reply for leaf in _leaves(item)]
    return [reply]


def _expire_options(reply: Any) -> bool | None:
    """Whether ``COMMAND DOCS expire`` lists the NX and GT tokens; None when it is not there."""
    if isinstance(reply, Exception) or not reply:
        return None
    tokens = {leaf for leaf in _leaves(reply) if isinstance(leaf, bytes)}
    return {b"NX", b"GT"} <= tokens


def detect_features(client: redis.Redis) -> ServerFeatures:
    """Ask ``client``'s server (a plain client of one node). Redis errors other than refusals
    propagate (the caller translates them)."""
    probes = [f for f in FEATURES if f.probe]
    info = _raw(client, "COMMAND", "INFO", *[f.probe for f in probes])
    docs = _raw(client, "COMMAND", "DOCS", "expire")
    present: dict[str, bool | None] = {}
    known = isinstance(info, list) and len(info) == len(probes)
    for i, feature in enumerate(probes):
        present[feature.name] = info[i] is not None if known else None
    present["expire_nx_gt"] = _expire_options(docs)
    return ServerFeatures({f.name: present[f.name] for f in FEATURES})
