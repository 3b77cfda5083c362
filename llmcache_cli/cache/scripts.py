"""Server-side Lua for the two compare-and-write steps no single command does on every server:
releasing the stampede lock only if this caller still holds it, and extending a symbol index's
TTL without shortening it (servers before 7.0 have no ``EXPIRE ... NX``/``GT``).

Used on a single Redis server; in a cluster, and where an ACL refuses scripts, plain commands
(see ``redis_ops.py``). Loaded once per connection with ``SCRIPT LOAD``, called with ``EVALSHA``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# KEYS: lock.  ARGV: token.  Deletes the lock only if this caller still owns it.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: symbol index.  ARGV: seconds.  Extends the index's TTL, never shortens it (for servers
# without EXPIRE ... NX / GT, which arrived in Redis 7.0).
EXTEND = """
local ttl = redis.call('TTL', KEYS[1])
local want = tonumber(ARGV[1])
if ttl == -1 or (ttl >= 0 and ttl < want) then return redis.call('EXPIRE', KEYS[1], want) end
return 0
"""


@dataclass(frozen=True)
class Script:
    name: str
    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode("utf-8"), usedforsecurity=False).hexdigest()


SCRIPTS = (Script("release", RELEASE), Script("extend", EXTEND))
RELEASE_SCRIPT, EXTEND_SCRIPT = SCRIPTS
