"""The reference trace replay: one request at a time, a dict standing in for Redis.

Same semantics as ``engine.py`` (see its docstring), over the trace's request instants and keys:
requests are taken in time order (ties in file order), and before each one the answers due by
then are written, so with no LLM latency a request sees the answer of an earlier request at the
same instant. The fast replay (``trace.replay``) must agree with it exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from llmcache_cli.policy import TTLPolicy
from llmcache_cli.simulation.trace_lines import Line
from llmcache_cli.simulation.workload import from_epoch_ms


def replay_reference(
    lines: Sequence[Line], policy: TTLPolicy, latency_ms: int
) -> tuple[list[bool], dict[str, tuple[int, int, int]]]:
    """Which requests miss (in the given order), and the store at the end:
    key -> (line index of the answer, written_ms, expires_ms)."""
    order = sorted(range(len(lines)), key=lambda i: (lines[i].t_ms, i))
    store: dict[str, tuple[int, int, int]] = {}
    pending: deque[tuple[str, tuple[int, int, int]]] = deque()
    miss = [False] * len(lines)
    for i in order:
        line = lines[i]
        while pending and pending[0][1][1] <= line.t_ms:
            key, landed = pending.popleft()
            store[key] = landed
        entry = store.get(line.key)
        if entry is not None and line.t_ms <= entry[2]:
            continue
        miss[i] = True
        written = line.t_ms + latency_ms
        ttl = policy.ttl(line.data_type, line.symbol, from_epoch_ms(written))
        pending.append((line.key, (i, written, written + ttl * 1000)))
    for key, entry in pending:
        store[key] = entry
    return miss, store
