"""The cache rule, per request: when an entry serves it, and when a written answer expires.

One statement, called with Python numbers by the reference engine (one request at a time) and
with numpy arrays by the lockstep engine (every key of a request instant at once); both forms
are the same operators, so the engines cannot drift apart. ``miss_chains`` follows the same rule
along a key's requests (``t <= expires`` is its ``searchsorted(..., side="right")``).

- An answer written at ``written_ms`` with a TTL of ``ttl_s`` expires at ``written_ms + ttl_s *
  1000`` (``SET ... PX``); a read does not extend it.
- An entry serves a request at ``t`` while ``t <= expires`` (Redis expires a key only when now
  is strictly past its expiry); under ``conditional``, only if the inputs it was made from did
  not change significantly (``moved``, ``inputs.changed`` or its numpy form).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

T = TypeVar("T", int, np.ndarray)
B = TypeVar("B", bool, np.ndarray)


def expires_at(written_ms: T, ttl_s: T) -> T:
    """When an answer written at ``written_ms`` with a TTL of ``ttl_s`` seconds expires."""
    return written_ms + ttl_s * 1000


def misses(t_ms: int, expires_ms: T, moved: B | bool, conditional: bool) -> B:
    """Whether a request at ``t_ms`` misses the entry that expires at ``expires_ms`` (elementwise
    for arrays): it has expired, or, under ``conditional``, its inputs moved."""
    expired = expires_ms < t_ms
    return (expired | moved) if conditional else expired  # type: ignore[return-value]
