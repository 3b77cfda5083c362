"""What the server lets the library do, found once when the client connects.

One object, made by ``Link`` after its first probe answered and read-only afterwards (the
operations read it; none of them changes it): whether the server is a Redis Cluster, whether
Lua scripts may run (a single server whose ACL allows ``SCRIPT LOAD``/``EVALSHA``, and the caller
did not say ``use_scripts=False``), and whether ``EXPIRE`` takes ``NX``/``GT`` (Redis 7.0+,
Valkey), asked with one ``EXPIRE`` of a key that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

PROBE_KEY = "llmcache:probe:expire-options"  # never exists: EXPIRE on it changes nothing


@dataclass(frozen=True)
class Capabilities:
    cluster: bool
    scripts: bool
    expire_nx_gt: bool
