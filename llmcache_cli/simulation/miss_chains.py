"""The cache rule, in vector form, for every fast path that walks keys in time order.

The rule (the reference engine, ``reference_engine.py``, states it one request at a time):

- a request misses when its key holds no live entry; the LLM is called and its answer is
  written ``latency_ms`` later, with the TTL the policy gives at that write time;
- an entry serves a request at ``t`` while ``t <= expires`` (Redis expires a key only when now
  is strictly past its expiry); a read does not extend the TTL;
- requests that arrive before a pending answer lands miss too (a burst), each calling the LLM;
  their writes land in order, the last one's expiry counts.

So per key the misses form a chain: the key's first request misses, and so does every request
before that answer lands (``r..last``); the next miss is the first request after the expiry of
the burst's last write. ``miss_chains`` follows the chains of all keys at once. Used by the
generated-workload engine (``chain_engine``: one key per data type and TTL class, or per hour
bucket) and by the trace replay (``replay``: one key per trace key).
"""

from __future__ import annotations

import numpy as np

KEY_SHIFT = 42  # composite (key, time) value: time offsets stay below 2**42 ms (139 years)
LONGEST_SPAN_MS = 2 ** (KEY_SHIFT - 1)  # times and expiries, from the first request, stay below
LOCKSTEP_MIN_CHAINS = 16


def miss_chains(key: np.ndarray, t: np.ndarray, expiry: np.ndarray, latency_ms: int) -> np.ndarray:
    """Which requests miss, as bools, for requests sorted by (``key``, ``t``).

    ``key``: a small non-negative int per request; ``t``: its time in ms from the first request
    (``0 <= t < LONGEST_SPAN_MS``); ``expiry[i]``: when the answer of a miss at ``i`` would
    expire, on the same clock.

    The chains of all keys are followed together, one vector step per miss of the busiest key;
    when only a few chains are left, each goes on alone with its next steps worked out at once
    for the rest of its key."""
    n = t.size
    miss = np.zeros(n, dtype=bool)
    if n == 0:
        return miss
    high = key.astype(np.int64) << KEY_SHIFT
    composite = high + t
    target = high + expiry
    first = np.ones(n, dtype=bool)  # the first request of each key
    np.not_equal(key[1:], key[:-1], out=first[1:])
    steps = np.diff(composite)
    bursts = bool((steps < latency_ms).any())  # else each burst is its miss alone
    marks = np.zeros(n + 1, dtype=np.int32) if bursts else None

    def burst_end(at: np.ndarray) -> np.ndarray:
        """The last request before the answer of a miss at ``at`` lands."""
        if not bursts:
            return at
        return np.maximum(np.searchsorted(composite, composite[at] + latency_ms, side="left") - 1, at)

    active = np.flatnonzero(first)
    while active.size >= LOCKSTEP_MIN_CHAINS:
        last = burst_end(active)
        if marks is None:
            miss[active] = True
        else:
            marks[active] += 1
            marks[last + 1] -= 1
        after = np.searchsorted(composite, target[last], side="right")
        going = after < n
        going[going] = ~first[after[going]]
        active = after[going]
    key_starts = np.flatnonzero(first)
    for r in active.tolist():  # the few chains left, each to the end of its key
        following = int(np.searchsorted(key_starts, r, side="right"))
        end = int(key_starts[following]) if following < key_starts.size else n
        region = np.arange(r, end)
        last_of = (burst_end(region) - r).tolist()
        next_of = (np.searchsorted(composite, target[r:end], side="right") - r).tolist()
        k, size = 0, end - r
        while k < size:
            last = last_of[k]
            if marks is None:
                miss[r + k] = True
            else:
                marks[r + k] += 1
                marks[r + last + 1] -= 1
            k = next_of[last]
    if marks is not None:
        miss = np.cumsum(marks[:n]) > 0
    return miss
