"""MEMORY USAGE and PTTL of every key of a scan: inside the server where it runs read-only
scripts, pipelined where it does not.

A script (``EVAL_RO``, Redis 7+) runs a whole SCAN page: the SCAN itself, then both figures per
key it found, and returns the cursor, the keys and the figures (``scan.PageScript``). One
command and one reply per page instead of a SCAN and two commands per key: the server parses no
per-key commands and gets no key names sent back to it, which costs it less CPU, and this
process packs nothing per key. A page spans many hash slots, all on this node: the keys are not
declared (no ``KEYS``), which scripts without flags may do. Where scripting is refused (an ACL
without EVAL_RO, or without MEMORY or SCAN inside scripts, a managed service, Redis 6.2 without
EVAL_RO) each node falls back to the two pipelined commands. Which way a node went is the
report's ``method``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.exceptions as rex

from llmcache_cli.client import Node
from llmcache_cli.resp import NO_COMMANDS
from llmcache_cli.scan import KEY, Batch, KeyCommands, PageScript

SCRIPT = "script"  # EVAL_RO per SCAN page
PIPELINE = "pipeline"  # MEMORY USAGE and PTTL per key, pipelined

PAGE = PageScript(
    """
local page = redis.call('SCAN', unpack(ARGV))
local figures = {}
for i, key in ipairs(page[2]) do
  figures[2 * i - 1] = redis.call('MEMORY', 'USAGE', key) or -2
  figures[2 * i] = redis.call('PTTL', key)
end
return {page[1], page[2], figures}
""",
    width=2,
)
# The page script's three commands, on a key of this node's own (a key named here could belong
# to another node of a cluster, which a script may not touch); 1 if a key was there to try.
_PROBE = """
local key = redis.call('SCAN', '0', 'COUNT', 100)[2][1]
if not key then return 0 end
redis.call('MEMORY', 'USAGE', key)
redis.call('PTTL', key)
return 1
"""
MEMORY_AND_TTL = KeyCommands(("MEMORY", "USAGE", KEY), ("PTTL", KEY))


def method_for(node: Node, allow_script: bool = True) -> tuple[str, int]:
    """(SCRIPT when ``node`` runs the page script's commands in a read-only script, else
    PIPELINE; the keyspace hits the probe made: its PTTL of an existing key, 0 or 1)."""
    if not allow_script:
        return PIPELINE, 0
    try:
        tried = node.client.execute_command("EVAL_RO", _PROBE, 0)
    except (rex.ResponseError, rex.NoPermissionError):
        return PIPELINE, 0
    return SCRIPT, int(tried)


def commands(method: str) -> KeyCommands:
    return NO_COMMANDS if method == SCRIPT else MEMORY_AND_TTL


def page_script(method: str) -> PageScript | None:
    """The scan's page script (None for the pipelined method)."""
    return PAGE if method == SCRIPT else None


def split(batch: Batch) -> tuple[Sequence[Any], Sequence[Any]]:
    """(MEMORY USAGE replies, PTTL replies) of a batch, in key order, whichever the method. A
    key gone before it was measured has PTTL -2 either way (the tallies skip it on that): its
    memory is nil pipelined, -2 from the script (atomic: both figures are of the same moment)."""
    return batch.replies[0::2], batch.replies[1::2]


def method_name(methods: Sequence[str]) -> str:
    """One name for a report: the nodes' method, or ``mixed``."""
    found = set(methods)
    return found.pop() if len(found) == 1 else "mixed" if found else PIPELINE
