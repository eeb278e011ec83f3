"""Lua scripts for the Redis writes that must be atomic across several keys.

Each script is small and does one thing; redis-py runs them by SHA and reloads them after a
``SCRIPT FLUSH`` or a failover.
"""

from __future__ import annotations

#: KEYS: queues set, lock key, rejected counter, target (queue list or schedule zset).
#: ARGV: queue name, payload, lock value (jid), lock TTL ms, score ("" = push onto the queue).
#: Returns 1 when enqueued, 0 when the unique lock was already held.
ENQUEUE_UNIQUE = """
if not redis.call('set', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then
  redis.call('incr', KEYS[3])
  return 0
end
if ARGV[5] == '' then
  redis.call('sadd', KEYS[1], ARGV[1])
  redis.call('lpush', KEYS[4], ARGV[2])
else
  redis.call('zadd', KEYS[4], ARGV[5], ARGV[2])
end
return 1
"""

#: KEYS: in-progress index, then pairs (queue list, in-progress list).
#: ARGV: max jobs, then one index member per pair.
#: Moves up to max jobs, oldest first, from the queues in the given order into their
#: in-progress lists and returns a flat list of (pair number, payload).
FETCH = """
local max = tonumber(ARGV[1])
local out = {}
local n = 0
for i = 2, #KEYS, 2 do
  if n >= max then break end
  local pair = i / 2
  local moved = false
  while n < max do
    local job = redis.call('lmove', KEYS[i], KEYS[i + 1], 'RIGHT', 'LEFT')
    if not job then break end
    moved = true
    n = n + 1
    out[#out + 1] = pair
    out[#out + 1] = job
  end
  if moved then redis.call('sadd', KEYS[1], ARGV[pair + 1]) end
end
return out
"""

#: KEYS: the sorted set, the queues set, then one queue list per job.
#: ARGV: triples (member as stored, payload to push, queue name).
#: A member is pushed only if this call removed it, so two pollers never move a job twice.
MOVE_DUE = """
local moved = 0
for i = 1, #ARGV, 3 do
  if redis.call('zrem', KEYS[1], ARGV[i]) == 1 then
    redis.call('lpush', KEYS[2 + (i + 2) / 3], ARGV[i + 1])
    redis.call('sadd', KEYS[2], ARGV[i + 2])
    moved = moved + 1
  end
end
return moved
"""

#: KEYS: in-progress index, in-progress list, queue list, liveness key, recovery counts
#: hash, poison list. ARGV: index member, recoveries allowed, counts TTL seconds.
#: Requeues every job of a dead process's in-progress list to the front of its queue, then
#: drops the list from the index. A job recovered more often than allowed has crashed that
#: many workers: it goes to the poison list instead, for the caller to kill. Does nothing if
#: the process turned out to be alive.
RECOVER = """
if redis.call('exists', KEYS[4]) == 1 then return -1 end
local moved = 0
local limit = tonumber(ARGV[2])
while true do
  local job = redis.call('lindex', KEYS[2], 0)
  if not job then break end
  if redis.call('hincrby', KEYS[5], job, 1) > limit then
    redis.call('lmove', KEYS[2], KEYS[6], 'LEFT', 'RIGHT')
  else
    redis.call('lmove', KEYS[2], KEYS[3], 'LEFT', 'RIGHT')
    moved = moved + 1
  end
end
redis.call('expire', KEYS[5], ARGV[3])
redis.call('srem', KEYS[1], ARGV[1])
return moved
"""

#: KEYS: poison list, dead set. ARGV: member as stored, dead payload, score.
#: Kills one poison job, only if this call took it off the list.
BURY_POISON = """
if redis.call('lrem', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('zadd', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
return 0
"""

#: KEYS: lock key. ARGV: the jid that must own it. Deletes the lock only if that jid holds it.
UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

#: KEYS: source sorted set, destination sorted set. ARGV: member, new member, new score.
#: Moves one entry between sets (retry → dead) only if this call removed it.
MOVE_MEMBER = """
if redis.call('zrem', KEYS[1], ARGV[1]) == 1 then
  redis.call('zadd', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
return 0
"""

#: KEYS: pairs (in-progress list, queue list). ARGV: one payload per pair.
#: Puts fetched jobs back at the front of their queues; a job is pushed only if this call
#: took it out of the in-progress list, so a retried call never queues a job twice.
REQUEUE = """
local moved = 0
for i = 1, #ARGV do
  if redis.call('lrem', KEYS[2 * i - 1], -1, ARGV[i]) == 1 then
    redis.call('rpush', KEYS[2 * i], ARGV[i])
    moved = moved + 1
  end
end
return moved
"""

#: LREM with count -1 searches from the tail, where the oldest fetched jobs sit: jobs finish
#: roughly in fetch order, so an acknowledgement scans a few entries, not the whole list.
#: KEYS: processed total, processed today, then in-progress lists.
#: ARGV: seconds to expire today's counter in (0 = leave it), then pairs (list number,
#: payload). Acknowledges a batch of jobs that all succeeded, in one command.
ACK_DONE = """
local n = 0
for i = 2, #ARGV, 2 do
  redis.call('lrem', KEYS[2 + tonumber(ARGV[i])], -1, ARGV[i + 1])
  n = n + 1
end
redis.call('incrby', KEYS[1], n)
redis.call('incrby', KEYS[2], n)
if ARGV[1] ~= '0' then redis.call('expire', KEYS[2], ARGV[1]) end
return n
"""
