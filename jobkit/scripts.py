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
#: Requeues every job of a dead process's in-progress list to the front of its queue (from
#: the list's newest end, so its oldest job is the queue's next), then drops the list from
#: the index. A job recovered more often than allowed has crashed that
#: many workers: it goes to the poison list instead, for the caller to kill. Does nothing if
#: the process turned out to be alive.
RECOVER = """
if redis.call('exists', KEYS[4]) == 1 then return -1 end
local moved = 0
local limit = tonumber(ARGV[2])
while true do
  local job = redis.call('lindex', KEYS[2], -1)
  if not job then break end
  if redis.call('hincrby', KEYS[5], job, 1) > limit then
    redis.call('lmove', KEYS[2], KEYS[6], 'RIGHT', 'RIGHT')
  else
    redis.call('lmove', KEYS[2], KEYS[3], 'RIGHT', 'RIGHT')
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

#: Claims periodic ticks and enqueues their jobs, atomically per tick: a tick is claimed by
#: exactly one call across all processes, and its job is pushed in the same step, so a crash
#: can neither lose a claimed tick's job nor enqueue it twice.
#: KEYS: queues set, paused set, unique-rejected counter, then per claim: entry hash, claimed
#: ticks sorted set, queue list, unique lock key (any key when there is no lock).
#: ARGV: ticks to remember per entry, identity, now (epoch seconds), then per claim: name,
#: tick (ms), payload, queue name, lock TTL ms ("0" = no lock), jid.
#: Returns per claim: 0 already claimed (or older than the remembered ticks), 1 enqueued,
#: 2 paused (claimed, not enqueued), 3 unique lock held (claimed, not enqueued).
CLAIM_TICKS = """
local keep = tonumber(ARGV[1])
local results = {'taken', 'enqueued', 'paused', 'locked'}
local out = {}
for i = 0, (#ARGV - 3) / 6 - 1 do
  local a, k = 4 + i * 6, 4 + i * 4
  local tick = tonumber(ARGV[a + 1])
  local code = 0
  if not redis.call('zscore', KEYS[k + 1], ARGV[a + 1]) then
    local oldest = redis.call('zrange', KEYS[k + 1], 0, 0, 'WITHSCORES')
    local full = redis.call('zcard', KEYS[k + 1]) >= keep
    if not (full and tick < tonumber(oldest[2])) then
      redis.call('zadd', KEYS[k + 1], tick, ARGV[a + 1])
      redis.call('zremrangebyrank', KEYS[k + 1], 0, -keep - 1)
      if redis.call('sismember', KEYS[2], ARGV[a]) == 1 then
        code = 2
      elseif ARGV[a + 4] ~= '0' and
          not redis.call('set', KEYS[k + 3], ARGV[a + 5], 'NX', 'PX', ARGV[a + 4]) then
        redis.call('incr', KEYS[3])
        code = 3
      else
        redis.call('sadd', KEYS[1], ARGV[a + 3])
        redis.call('lpush', KEYS[k + 2], ARGV[a + 2])
        code = 1
      end
      local last = tonumber(redis.call('hget', KEYS[k], 'last_tick') or '-1')
      if tick > last then
        local jid = ''
        if code == 1 then jid = ARGV[a + 5] end
        redis.call('hset', KEYS[k], 'last_tick', ARGV[a + 1], 'last_jid', jid,
                   'last_result', results[code + 1], 'last_at', ARGV[3], 'last_by', ARGV[2])
      end
    end
  end
  out[#out + 1] = code
end
return out
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
  if redis.call('lrem', KEYS[2 * i - 1], 1, ARGV[i]) == 1 then
    redis.call('rpush', KEYS[2 * i], ARGV[i])
    moved = moved + 1
  end
end
return moved
"""

#: The worker's one round trip per cycle: acknowledge a batch of jobs that all succeeded, then
#: fetch the next batch into the in-progress lists (either part may be empty).
#: KEYS: processed total, processed today, in-progress index, paused queues set, then pairs
#: (queue list, in-progress list).
#: ARGV: seconds to expire today's counter in (0 = leave it), max jobs to fetch, F = how many
#: pairs to fetch from (the first F, in priority order), F in-progress index members, F queue
#: names, then pairs (pair number, payload) to acknowledge.
#: Returns a flat list of (pair number, payloads fetched from it, newest first).
#:
#: Each redis.call costs more than the list operation it runs, so both halves work on ranges.
#: An in-progress list holds its jobs oldest first (head) to newest (tail), and jobs finish
#: roughly in fetch order, so the acknowledged jobs of a list are usually exactly its first
#: entries: LTRIM them; otherwise each is removed by LREM from the head. A fetch moves the
#: oldest jobs of a queue (its right end) with LRANGE, LTRIM and one RPUSH: appending at the
#: tail, as a push at the head would shift the whole list node for every job.
#: A queue named in the paused set (Sidekiq Pro's) is skipped; one SCARD covers the usual case
#: of no paused queue at all.
ACK_AND_FETCH = """
local fetch_pairs = tonumber(ARGV[3])
local acks = {}
local done = 0
for i = 4 + 2 * fetch_pairs, #ARGV, 2 do
  local list = 4 + 2 * tonumber(ARGV[i])
  acks[list] = acks[list] or {}
  table.insert(acks[list], ARGV[i + 1])
  done = done + 1
end
for list, jobs in pairs(acks) do
  local wanted = {}
  for _, job in ipairs(jobs) do wanted[job] = (wanted[job] or 0) + 1 end
  local head = redis.call('lrange', KEYS[list], 0, #jobs - 1)
  local same = #head == #jobs
  for _, job in ipairs(head) do
    if not same then break end
    local left = wanted[job]
    same = left ~= nil and left > 0
    if same then wanted[job] = left - 1 end
  end
  if same then
    redis.call('ltrim', KEYS[list], #jobs, -1)
  else
    for _, job in ipairs(jobs) do redis.call('lrem', KEYS[list], 1, job) end
  end
end
if done > 0 then
  redis.call('incrby', KEYS[1], done)
  redis.call('incrby', KEYS[2], done)
  if ARGV[1] ~= '0' then redis.call('expire', KEYS[2], ARGV[1]) end
end
local paused = {}
if fetch_pairs > 0 and redis.call('scard', KEYS[4]) > 0 then
  for pair = 1, fetch_pairs do
    paused[pair] = redis.call('sismember', KEYS[4], ARGV[3 + fetch_pairs + pair]) == 1
  end
end
local max = tonumber(ARGV[2])
local out = {}
local n = 0
for pair = 1, fetch_pairs do
  local moved = false
  while n < max and not paused[pair] do
    -- unpack() below is bounded by Lua's C stack: move at most 1000 jobs per RPUSH.
    local jobs = redis.call('lrange', KEYS[3 + 2 * pair], -math.min(max - n, 1000), -1)
    if #jobs == 0 then break end
    redis.call('ltrim', KEYS[3 + 2 * pair], 0, -#jobs - 1)
    local oldest_first = {}
    for i = #jobs, 1, -1 do oldest_first[#oldest_first + 1] = jobs[i] end
    redis.call('rpush', KEYS[4 + 2 * pair], unpack(oldest_first))
    moved = true
    n = n + #jobs
    out[#out + 1] = pair
    out[#out + 1] = jobs
  end
  if moved then redis.call('sadd', KEYS[3], ARGV[3 + pair]) end
  if n >= max then break end
end
return out
"""
