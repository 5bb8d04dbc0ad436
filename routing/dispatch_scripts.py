"""The Lua scripts behind routing.dispatch_redis: each read-modify-write runs whole inside Redis.

Every script gets the key prefix as ARGV[1] and builds the names documented in
routing.redis_keys from it. Ticket and agent ids arrive zero-padded (redis_keys.member), times
as milliseconds by the caller's clock.
"""

from __future__ import annotations

_COMMON = """
local P = ARGV[1]
local function qkey(q) return P .. 'q:' .. q end
local function tkey(t) return P .. 't:' .. t end
local function akey(a) return P .. 'a:' .. a end
local function skey(a) return P .. 'a:' .. a .. ':t' end
local function dkey(t) return P .. 'd:' .. t end
local IDLE, OFFERS = P .. 'idle', P .. 'offers'

-- an agent who can take one more ticket of queue q now (a = capacity, queues, presence, until)
local function fits(a, aid, q, now)
  return a[1] and a[3] == 'available' and tonumber(a[4] or '0') > now
    and string.find(a[2] or '', ',' .. q .. ',', 1, true) ~= nil
    and redis.call('SCARD', skey(aid)) < tonumber(a[1])
end

local function agent_fields(aid)
  return redis.call('HMGET', akey(aid), 'capacity', 'queues', 'presence', 'until')
end

-- take the ticket out of wherever it is: its queue, its agent's seats, the offer deadlines
local function forget(tid)
  local h = redis.call('HMGET', tkey(tid), 'queue', 'agent')
  if h[1] then redis.call('ZREM', qkey(h[1]), tid) end
  if h[2] then redis.call('SREM', skey(h[2]), tid) end
  redis.call('ZREM', OFFERS, tid)
  redis.call('DEL', tkey(tid))
  return h
end

local function decline(tid, aid, declined_ttl)
  local h = redis.call('HMGET', tkey(tid), 'state', 'agent', 'queue', 'rank')
  if h[1] ~= 'offered' or h[2] ~= aid then return 0 end
  redis.call('SREM', skey(aid), tid)
  redis.call('SADD', dkey(tid), aid)
  redis.call('PEXPIRE', dkey(tid), declined_ttl)
  redis.call('HSET', tkey(tid), 'state', 'queued')
  redis.call('HDEL', tkey(tid), 'agent', 'expires')
  redis.call('ZADD', qkey(h[3]), h[4], tid)
  redis.call('ZREM', OFFERS, tid)
  return 1
end
"""

# ARGV: prefix, agent, now -> {'ok', ticket, queue, rank} | {reason}
CLAIM = (
    _COMMON
    + """
local aid, now = ARGV[2], ARGV[3]
local a = redis.call('HMGET', akey(aid), 'capacity', 'queues')
if not a[1] then return {'unknown_agent'} end
if redis.call('SCARD', skey(aid)) >= tonumber(a[1]) then return {'at_capacity'} end
local best, bestq, bests, rank
for q in string.gmatch(a[2] or '', '[^,]+') do
  local head = redis.call('ZRANGE', qkey(q), 0, 0, 'WITHSCORES')
  if head[1] then
    local s = tonumber(head[2])
    if best == nil or s < bests or (s == bests and head[1] < best) then
      best, bestq, bests, rank = head[1], q, s, head[2]
    end
  end
end
if best == nil then return {'no_ticket'} end
redis.call('ZREM', qkey(bestq), best)
redis.call('SADD', skey(aid), best)
redis.call('HSET', tkey(best), 'state', 'held', 'agent', aid)
if redis.call('ZSCORE', IDLE, aid) then redis.call('ZADD', IDLE, now, aid) end
return {'ok', best, bestq, rank}
"""
)

# ARGV: prefix, ticket, queue, rank, agent ('' = waiting in the queue), stray agent ('' = none),
#       offer deadline ('' = held, not offered)
SETTLE = (
    _COMMON
    + """
local tid, q, rank, aid, stray, expires = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if stray ~= '' and stray ~= aid then redis.call('SREM', skey(stray), tid) end
forget(tid)
if aid == '' then
  redis.call('HSET', tkey(tid), 'queue', q, 'rank', rank, 'state', 'queued')
  redis.call('ZADD', qkey(q), rank, tid)
elseif expires == '' then
  redis.call('HSET', tkey(tid), 'queue', q, 'rank', rank, 'state', 'held', 'agent', aid)
  redis.call('SADD', skey(aid), tid)
else
  redis.call('HSET', tkey(tid), 'queue', q, 'rank', rank, 'state', 'offered', 'agent', aid,
    'expires', expires)
  redis.call('SADD', skey(aid), tid)
  redis.call('ZADD', OFFERS, expires, tid)
end
return 1
"""
)

# ARGV: prefix, ticket, holder ('' = none), handle seconds ('' = none), weight of the newest
DROP = (
    _COMMON
    + """
local tid, holder, handle, weight = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local h = forget(tid)
if holder ~= '' then redis.call('SREM', skey(holder), tid) end
redis.call('DEL', dkey(tid))
if handle ~= '' and h[1] then
  local old = tonumber(redis.call('HGET', P .. 'aht', h[1]))
  local new = tonumber(handle)
  if old then new = old + weight * (new - old) end
  redis.call('HSET', P .. 'aht', h[1], tostring(new))
end
return 1
"""
)

# ARGV: prefix, ticket, now -> {queue, state, position, waiting, free agents, seats, aht or ''}
STANDING = (
    _COMMON
    + """
local tid, now = ARGV[2], tonumber(ARGV[3])
local h = redis.call('HMGET', tkey(tid), 'queue', 'state')
if not h[1] then return false end
local q = h[1]
local position = 0
if h[2] == 'queued' then
  local r = redis.call('ZRANK', qkey(q), tid)
  if r then position = r + 1 end
end
local free, seats = 0, 0
for _, aid in ipairs(redis.call('ZRANGE', IDLE, 0, -1)) do
  local a = agent_fields(aid)
  if a[1] and a[3] == 'available' and tonumber(a[4] or '0') > now
      and string.find(a[2] or '', ',' .. q .. ',', 1, true) then
    seats = seats + tonumber(a[1])
    if redis.call('SCARD', skey(aid)) < tonumber(a[1]) then free = free + 1 end
  end
end
local aht = redis.call('HGET', P .. 'aht', q) or ''
return {q, h[2], position, redis.call('ZCARD', qkey(q)), free, seats, aht}
"""
)

# ARGV: prefix, ticket, now, expires -> agent | false
OFFER = (
    _COMMON
    + """
local tid, now, expires = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local h = redis.call('HMGET', tkey(tid), 'queue', 'state')
if h[2] ~= 'queued' then return false end
local q = h[1]
if not redis.call('ZSCORE', qkey(q), tid) then return false end
for _, aid in ipairs(redis.call('ZRANGE', IDLE, 0, -1)) do
  local a = agent_fields(aid)
  if not a[1] or a[3] ~= 'available' or tonumber(a[4] or '0') <= now then
    redis.call('ZREM', IDLE, aid)
  elseif fits(a, aid, q, now) and redis.call('SISMEMBER', dkey(tid), aid) == 0 then
    redis.call('ZREM', qkey(q), tid)
    redis.call('SADD', skey(aid), tid)
    redis.call('HSET', tkey(tid), 'state', 'offered', 'agent', aid, 'expires', expires)
    redis.call('ZADD', OFFERS, expires, tid)
    redis.call('ZADD', IDLE, ARGV[3], aid)
    return aid
  end
end
return false
"""
)

# ARGV: prefix, ticket, agent, now -> 'ok' | 'expired' | 'not_offered'
ACCEPT = (
    _COMMON
    + """
local tid, aid, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local h = redis.call('HMGET', tkey(tid), 'state', 'agent', 'expires')
if h[1] ~= 'offered' or h[2] ~= aid then return 'not_offered' end
if tonumber(h[3]) < now then return 'expired' end
redis.call('HSET', tkey(tid), 'state', 'held')
redis.call('HDEL', tkey(tid), 'expires')
redis.call('ZREM', OFFERS, tid)
return 'ok'
"""
)

# ARGV: prefix, ticket, agent, declined ttl -> 1 | 0
DECLINE = (
    _COMMON
    + """
return decline(ARGV[2], ARGV[3], ARGV[4])
"""
)

# ARGV: prefix, now, limit, declined ttl -> {ticket, agent, expires, ...}
EXPIRE = (
    _COMMON
    + """
local due = redis.call('ZRANGEBYSCORE', OFFERS, '-inf', ARGV[2], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local out = {}
for i = 1, #due, 2 do
  local tid = due[i]
  local aid = redis.call('HGET', tkey(tid), 'agent')
  if aid and decline(tid, aid, ARGV[4]) == 1 then
    table.insert(out, tid)
    table.insert(out, aid)
    table.insert(out, due[i + 1])
  else
    redis.call('ZREM', OFFERS, tid)
  end
end
return out
"""
)

# ARGV: prefix, agent, presence, now, until -> 1 | 0 (not registered)
HEARTBEAT = (
    _COMMON
    + """
local aid, presence, now, till = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', akey(aid)) == 0 then return 0 end
local was = redis.call('HMGET', akey(aid), 'presence', 'until')
redis.call('HSET', akey(aid), 'presence', presence, 'until', till)
if presence == 'available' then
  local lapsed = was[1] ~= 'available' or tonumber(was[2] or '0') <= tonumber(now)
  if lapsed or not redis.call('ZSCORE', IDLE, aid) then redis.call('ZADD', IDLE, now, aid) end
else
  redis.call('ZREM', IDLE, aid)
end
return 1
"""
)

# ARGV: prefix (unused), token; KEYS[1]: the lock -> 1 when this token held it
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
"""
