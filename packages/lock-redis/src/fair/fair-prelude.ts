import { FRESH_TOKEN_LUA } from '../scripts/acquire.js';

/**
 * The Lua every fair script starts with (each script is this prelude plus its own body, so one
 * EVALSHA does the whole step atomically).
 *
 * KEYS: [1] lock (as the mutex's, see acquire.ts), [2] fencing counter, [3] queue ZSET (waiter
 * -> ticket), [4] waiter-lease ZSET (waiter -> server-clock deadline in ms), [5] ticket counter
 * (see `FairKeys`). ARGV[1] fencing-counter retention in ms (0: keep forever), ARGV[2] release
 * channel, ARGV[3] '1' to publish with SPUBLISH where the server has it (see release.ts); each
 * script's own arguments follow from ARGV[4]. A waiter is its owner token.
 *
 * - `now` is the server's `TIME` in ms: a waiter's lease is a deadline on the server's clock,
 *   set to its `ttl` from now by each of its refused attempts (the core re-asks at least every
 *   third of it, see `enqueue`), so it never depends on any client's clock, and a live waiter is
 *   never dropped however long it waits (Redisson's FairLock adds the client's timeout to the
 *   previous waiter's deadline: deadlines drift, and live waiters past them are purged).
 * - `purge()` drops the waiters whose lease lapsed (a dead process), whoever runs the script:
 *   one command per lapsed member, never an `unpack` of a long list (Lua's C stack).
 * - `pass_on()` runs whenever the lock is free or being freed: with a waiter queued, it grants
 *   the lock to the head at once, for the rest of the head's waiter lease, and publishes
 *   `<digest>:<token>` (the digest is `sha1hex` of the head's owner), so only the head's process
 *   wakes (no herd) and takes the grant without asking (fair/queued-owners.ts), or its next
 *   attempt finds the lock granted (the claim in the acquire script). A head that died
 *   meanwhile holds it only until its waiter lease would have lapsed anyway: a dead waiter
 *   delays the queue by at most one waiter lease. With nobody queued the lock is simply deleted
 *   and nothing published.
 * - `grant(m, px)` writes the lock for `m` with a fresh token by the mutex's rule (acquire.ts).
 * - `keep()` gives the queue's keys the expiry of their last waiter lease, so an abandoned queue
 *   vanishes by itself.
 */
export const FAIR_PRELUDE = `
local lock, fence, queue, leases, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local retention, channel, sharded = tonumber(ARGV[1]), ARGV[2], ARGV[3]
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function purge()
  local lapsed = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  if #lapsed == 0 then return end
  for i = 1, #lapsed do redis.call('ZREM', queue, lapsed[i]) end
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
end

local function leave(m)
  if redis.call('ZREM', queue, m) == 1 then redis.call('ZREM', leases, m) end
end

local function grant(m, ttl)
  redis.call('SET', lock, m, 'PX', ttl)
${FRESH_TOKEN_LUA}  return token
end

local function keep()
  local last = tonumber(redis.call('ZRANGE', leases, -1, -1, 'WITHSCORES')[2])
  if not last then return end
  local left = string.format('%.0f', last - now)
  redis.call('PEXPIRE', queue, left)
  redis.call('PEXPIRE', leases, left)
  redis.call('PEXPIRE', tickets, left)
end

local function pass_on()
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if not head then
    redis.call('DEL', lock, tickets)
    return
  end
  local token = grant(head, tonumber(redis.call('ZSCORE', leases, head)) - now)
  local message = redis.sha1hex(head) .. ':' .. token
  if sharded == '1' and redis.REDIS_VERSION_NUM then
    redis.call('SPUBLISH', channel, message)
  else
    redis.call('PUBLISH', channel, message)
  end
end

-- A refused caller that will wait takes its place at the tail (or keeps it) and renews its
-- waiter lease; its re-check comes at most a third of the lease later (the core waits at most
-- retryAfterMs), so the lease never lapses while the caller lives. Returns the refusal. A lock
-- found free here has a head that is not the caller (a holder expired, nobody released): it
-- passes to that head now rather than at the head's next re-check.
local function refuse(m, ttl, wait)
  if redis.call('EXISTS', lock) == 0 then pass_on() end
  local retry = redis.call('PTTL', lock)
  if wait then
    if not redis.call('ZSCORE', queue, m) then
      redis.call('ZADD', queue, redis.call('INCR', tickets), m)
    end
    redis.call('ZADD', leases, now + ttl, m)
    keep()
    local most = math.max(1, math.floor(ttl / 3))
    if retry < 0 or retry > most then retry = most end
  end
  return {0, retry}
end

-- Grants m if the lock is free and nobody else is first in line; nil otherwise.
local function admit(m, ttl)
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if head and head ~= m then return nil end
  if not redis.call('SET', lock, m, 'NX', 'PX', ttl) then return nil end
${FRESH_TOKEN_LUA}  if head then leave(m) end
  return {1, token, ttl}
end

-- Owner-checked release of one hold of m: 2 (last hold: the lock is to be passed on; m's
-- entry goes too, if a grant passed to it was never claimed on the server), 1 (decremented)
-- or 0 (not held).
local function unhold(m)
  local held = redis.pcall('GET', lock)
  if held ~= m then
    if type(held) ~= 'table' then return 0 end
    local count = tonumber(redis.call('HGET', lock, m))
    if not count then return 0 end
    if count > 1 then
      redis.call('HINCRBY', lock, m, -1)
      return 1
    end
  end
  leave(m)
  return 2
end
`;
