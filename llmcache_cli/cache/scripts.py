"""Server-side Lua, so that a lookup, its counters and the stampede lock cost one round trip.

Used on a single Redis server. In a cluster the entry, its counter hash and its lock live in
different slots, so the service uses plain pipelines there instead (see ``service.py``). Scripts
are loaded once per connection with ``SCRIPT LOAD`` and called with ``EVALSHA``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# KEYS: entry, counter hash, lock.   ARGV: count mode ("all" counts hits and misses, "hits" only
# hits), the caller's own round-trip time in ms (a hit saves the entry's latency minus this),
# lock token ("" = do not lock), lock time-to-live in ms.
# Returns {value or false, 1 if the value is JSON (a hit) else 0, lock state, error or false}
# where lock state is 1 acquired, 0 held by another caller, -1 not asked for (or refused).
# A value is a hit exactly when it is JSON; an envelope's meta supplies what the hit saved.
# The counters and the lock are written with pcall: when Redis refuses writes (maxmemory
# reached with noeviction, a read-only replica) a stored answer is still served, uncounted.
LOOKUP = """
local value = redis.pcall('GET', KEYS[1])
if type(value) == 'table' then
  if ARGV[1] == 'all' then redis.pcall('HINCRBY', KEYS[2], 'misses', 1) end
  return {false, 0, -1, value.err or 'error'}
end
if value then
  local ok, doc = pcall(cjson.decode, value)
  if ok then
    local cost, saved = 0, 0
    if type(doc) == 'table' and type(doc.meta) == 'table' and doc.result ~= nil then
      local n = 0
      for _ in pairs(doc) do n = n + 1 end
      if n == 2 then
        local c, l = doc.meta.cost_usd, doc.meta.latency_ms
        if type(c) == 'number' and c > 0 and c < math.huge then cost = c end
        if type(l) == 'number' and l < math.huge then saved = l - tonumber(ARGV[2]) end
      end
    end
    redis.pcall('HINCRBY', KEYS[2], 'hits', 1)
    if cost > 0 then redis.pcall('HINCRBYFLOAT', KEYS[2], 'cost_saved_usd', cost) end
    if saved > 0 then redis.pcall('HINCRBYFLOAT', KEYS[2], 'time_saved_ms', saved) end
    return {value, 1, -1, false}
  end
end
if ARGV[1] == 'all' then redis.pcall('HINCRBY', KEYS[2], 'misses', 1) end
local lock = -1
if ARGV[3] ~= '' then
  local taken = redis.pcall('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[4])
  if type(taken) == 'table' and taken.err then lock = -1 elseif taken then lock = 1 else lock = 0 end
end
return {value, 0, lock, false}
"""

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


SCRIPTS = (Script("lookup", LOOKUP), Script("release", RELEASE), Script("extend", EXTEND))
LOOKUP_SCRIPT, RELEASE_SCRIPT, EXTEND_SCRIPT = SCRIPTS
