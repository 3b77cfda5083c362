"""MEMORY USAGE and PTTL of every key of a scan: inside the server where it runs read-only
scripts, pipelined where it does not.

A script (``EVAL_RO``, Redis 7+) gets a SCAN page's keys as ``ARGV`` (not ``KEYS``: a page spans
many hash slots, and every key of it is on this node) and returns both figures per key: one
command and one reply per page instead of two of each per key, which costs the server less
CPU. Where scripting is refused (an ACL without EVAL_RO or MEMORY inside scripts, a managed
service, Redis 6.2 without EVAL_RO) each node falls back to the two pipelined commands. Which
way a node went is the report's ``method``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.exceptions as rex

from llmcache_cli.client import Node
from llmcache_cli.scan import KEY, Batch, KeyCommands

SCRIPT = "script"  # EVAL_RO per SCAN page
PIPELINE = "pipeline"  # MEMORY USAGE and PTTL per key, pipelined

_LUA = """
local out = {}
for i, key in ipairs(ARGV) do
  local memory = redis.call('MEMORY', 'USAGE', key)
  out[2 * i - 1] = memory or -2
  out[2 * i] = redis.call('PTTL', key)
end
return out
"""
_PROBE = "redis.call('MEMORY', 'USAGE', ARGV[1]); redis.call('PTTL', ARGV[1]); return 1"
MEMORY_AND_TTL = KeyCommands(("MEMORY", "USAGE", KEY), ("PTTL", KEY))
NO_KEY_COMMANDS = KeyCommands()


def method_for(node: Node, allow_script: bool = True) -> str:
    """SCRIPT when ``node`` runs the read-only script (probed on a key that does not exist)."""
    if not allow_script:
        return PIPELINE
    try:
        node.client.execute_command("EVAL_RO", _PROBE, 0, "llmcache:probe:no-such-key")
    except (rex.ResponseError, rex.NoPermissionError):
        return PIPELINE
    return SCRIPT


def commands(method: str) -> KeyCommands:
    return NO_KEY_COMMANDS if method == SCRIPT else MEMORY_AND_TTL


def tail(method: str) -> Any:
    """The batch-level command of the script method (None for the pipelined one)."""
    if method != SCRIPT:
        return None
    return lambda keys: [("EVAL_RO", _LUA, 0, *keys)]


def split(method: str, batch: Batch) -> tuple[Sequence[Any], Sequence[Any]]:
    """(MEMORY USAGE replies, PTTL replies) of a batch, in key order. A key gone before it was
    measured has PTTL -2 either way (the tallies skip it on that): its memory is nil pipelined,
    -2 from the script (atomic: both figures are of the same moment)."""
    if method != SCRIPT:
        return batch.replies[0::2], batch.replies[1::2]
    if not batch.keys:
        return [], []
    reply = batch.tail[0]
    if isinstance(reply, Exception):
        raise reply
    return reply[0::2], reply[1::2]


def method_name(methods: Sequence[str]) -> str:
    """One name for a report: the nodes' method, or ``mixed``."""
    found = set(methods)
    return found.pop() if len(found) == 1 else "mixed" if found else PIPELINE
