"""Every limit on durations and timeouts, each defined once, with the one check that applies it.

- A TTL (``ttl=``, ``--ttl``, a policy's tables, ``[ttl]`` settings, a duration such as ``15m``)
  is a positive whole number of seconds, at most ten years: longer is a typo, and Redis refuses
  an ``EX`` that overflows its clock.
- A timeout (``--timeout``, ``[redis] timeout``) is a positive number of seconds, at most a
  day: longer is a typo, and overflows the socket layer's timers.
"""

from __future__ import annotations

import math

MAX_TTL_SECONDS = 10 * 365 * 86400  # ten years
MAX_TIMEOUT_SECONDS = 86400.0  # a day
TTL_RULE = f"a positive whole number of seconds, at most {MAX_TTL_SECONDS} (ten years)"
TIMEOUT_RULE = f"a positive number of seconds, at most {MAX_TIMEOUT_SECONDS:g}"


def is_ttl(value: object) -> bool:
    """True when ``value`` is a usable TTL (``TTL_RULE``); a bool is not a number here."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TTL_SECONDS


def check_ttl(value: object, what: str = "ttl") -> int:
    """``value`` when it is a TTL, else ``ValueError`` naming ``what`` and the rule."""
    if not is_ttl(value):
        raise ValueError(f"{what} must be {TTL_RULE}, got {value!r}")
    return value  # type: ignore[return-value]


def is_timeout(value: object) -> bool:
    """True when ``value`` is a usable timeout (``TIMEOUT_RULE``)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= MAX_TIMEOUT_SECONDS
    )
