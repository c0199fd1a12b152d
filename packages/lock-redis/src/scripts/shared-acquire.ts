import { SHARED_PRELUDE } from './shared-prelude.js';

/** The command the script runs under (see `defineScripts`). */
export const SHARED_ACQUIRE_COMMAND = 'dlockSharedAcquireV1';

/**
 * Grant, re-enter or refuse one lease of a semaphore or read-write key (see `SHARED_PRELUDE` for
 * KEYS and the first three ARGV). ARGV[4] kind (`s`emaphore, `r`ead, `w`rite), ARGV[5] owner,
 * ARGV[6] ttl in ms, ARGV[7] limit, ARGV[8] permits, ARGV[9] '1' to change a stored limit,
 * ARGV[10] '1' to queue when refused, ARGV[11] '1' for quorum mode (optional, see below).
 *
 * Order of the checks, as the SPI has it: stored limit (a mismatch changes nothing), re-entry
 * (granted even when full or writers wait), upgrade (read holder asking write: refused at once),
 * downgrade (write holder asking read: granted at once), then "fits and no live entry of another
 * owner queued ahead" (strict FIFO): while the queue is not empty only its head may be granted,
 * so a queued writer stops new readers and a queued `permits: limit` request is not overtaken by
 * single permits, and a plain `tryAcquire` never barges past the queue. A refused `queue` request takes its place at the tail (arrival number from the
 * `qseq` counter) or keeps it, and its waiter lease is set to `ttl` from now.
 *
 * A key nobody holds or waits for takes a short path (no purge, no queue, one HSET): an
 * uncontended acquire + release is about 16 commands inside the two scripts.
 *
 * A fresh grant takes a fresh token, except a read, which carries the counter's current value
 * (at least every earlier write's; a fresh one if the counter is gone).
 *
 * Quorum mode (`@dlock/redlock`, where each node runs this script and a grant needs a majority):
 * a strict per-node FIFO cannot be combined with a quorum (three waiters each at the head of a
 * different node's queue: nobody ever gets a majority while they renew their entries). So with
 * ARGV[11] = '1' the queue only gives writer preference: a writer's entry takes score 0 (writer
 * entries sort before every other entry, by member among themselves), a new read is refused
 * while a live write entry of another owner is queued, and nothing else looks at the queue:
 * writers and semaphore requests race as mutex waiters do. Entries of readers and semaphore
 * waiters are still kept, so that `announce` wakes them when the head fits.
 *
 * Returns {1, token, ttl} (granted), {2, token, pttl} (re-entered), {0, retryAfterMs or -1}
 * (refused), {-1, storedLimit} (limit mismatch), {-2} (upgrade).
 */
export const SHARED_ACQUIRE_LUA = `${SHARED_PRELUDE}
local kind, owner, ttl = ARGV[4], ARGV[5], tonumber(ARGV[6])
local limit, permits = tonumber(ARGV[7]), tonumber(ARGV[8])
local m = kind .. ':' .. owner
local quorum = ARGV[11] == '1'

-- Whether a live entry of another owner is queued before m (all of them when m is not queued);
-- the walk stops at the first foreign entry, which is nearly always the head.
local function queued_ahead()
  local rank = redis.call('ZRANK', queue, m)
  local i = 0
  while not rank or i < rank do
    local entry = redis.call('ZRANGE', queue, i, i)[1]
    if not entry then return false end
    if string.sub(entry, 3) ~= owner then return true end
    i = i + 1
  end
  return false
end

-- What blocks a fitting request: any earlier foreign entry (strict FIFO), or in quorum mode a
-- foreign write entry for a read only (write entries sort first there, so the walk is short).
local function blocked()
  if not quorum then return queued_ahead() end
  if kind ~= 'r' then return false end
  local i = 0
  while true do
    local entry = redis.call('ZRANGE', queue, i, i)[1]
    if not entry or string.sub(entry, 1, 1) ~= 'w' then return false end
    if string.sub(entry, 3) ~= owner then return true end
    i = i + 1
  end
end

local function leave_queue()
  if redis.call('ZREM', queue, m) == 1 then
    redis.call('ZREM', qexp, m)
    redis.call('HDEL', info, 'q:' .. m)
    changed = true
  end
end

-- The common case, a key nobody holds or waits for: nothing to purge, check or queue behind;
-- one HSET writes the lease's fields, the limit and the count.
if idle() and (kind ~= 's' or permits <= limit) then
  redis.call('DEL', info, qexp)
  local token
  if kind == 'r' then token = redis.call('GET', fence) or fresh_token() else token = fresh_token() end
  redis.call('ZADD', leases, now + ttl, m)
  if kind == 's' then
    redis.call('HSET', info, 'c:' .. m, 1, 'p:' .. m, permits, 't:' .. m, token, 'used', permits,
      'limit', limit)
  elseif kind == 'w' then
    redis.call('HSET', info, 'c:' .. m, 1, 'p:' .. m, 1, 't:' .. m, token, 'nw', 1)
  else
    redis.call('HSET', info, 'c:' .. m, 1, 'p:' .. m, 1, 't:' .. m, token, 'used', 1)
  end
  redis.call('PEXPIRE', leases, ttl)
  redis.call('PEXPIRE', info, ttl)
  -- Every earlier lease's deadline has passed, so this never shortens the counter's expiry.
  if retention > 0 then redis.call('PEXPIRE', fence, ttl + retention) end
  return {1, token, ttl}
end
purge()
if idle() then redis.call('DEL', info) end
if kind == 's' then
  local stored = tonumber(redis.call('HGET', info, 'limit'))
  if stored ~= limit then
    if stored and ARGV[9] ~= '1' then
      finish(false)
      return {-1, stored}
    end
    if stored and limit > stored then changed = true end
    redis.call('HSET', info, 'limit', limit)
  end
end
local count = redis.call('HGET', info, 'c:' .. m)
if count then
  redis.call('HINCRBY', info, 'c:' .. m, 1)
  local expiry = tonumber(redis.call('ZSCORE', leases, m))
  if expiry < now + ttl then
    expiry = now + ttl
    redis.call('ZADD', leases, expiry, m)
  end
  local token = redis.call('HGET', info, 't:' .. m)
  leave_queue()
  finish(true)
  return {2, token, expiry - now}
end
if kind == 'w' and redis.call('HEXISTS', info, 'c:r:' .. owner) == 1 then
  finish(false)
  return {-2}
end
local ok = kind == 'r' and redis.call('HEXISTS', info, 'c:w:' .. owner) == 1
if not ok then ok = fits(m, permits) and not blocked() end
if ok then
  local token
  if kind == 'r' then token = redis.call('GET', fence) or fresh_token() else token = fresh_token() end
  redis.call('ZADD', leases, now + ttl, m)
  redis.call('HSET', info, 'c:' .. m, 1, 'p:' .. m, permits, 't:' .. m, token)
  if kind == 'w' then
    redis.call('HINCRBY', info, 'nw', 1)
  else
    redis.call('HINCRBY', info, 'used', permits)
  end
  leave_queue()
  finish(true)
  return {1, token, ttl}
end
local firstLease = tonumber(redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')[2])
local firstWaiter = tonumber(redis.call('ZRANGE', qexp, 0, 0, 'WITHSCORES')[2])
local retry = math.min(firstLease or math.huge, firstWaiter or math.huge)
if ARGV[10] == '1' then
  if not redis.call('ZSCORE', queue, m) then
    local arrival = 0
    if not (quorum and kind == 'w') then arrival = redis.call('HINCRBY', info, 'qseq', 1) end
    redis.call('ZADD', queue, arrival, m)
    redis.call('HSET', info, 'q:' .. m, permits)
  end
  redis.call('ZADD', qexp, now + ttl, m)
  retry = math.min(retry, now + math.max(1, math.floor(ttl / 3)))
end
finish(ARGV[10] == '1')
if retry == math.huge then return {0, -1} end
return {0, retry - now}
`;
