/**
 * The Lua every writing shared script starts with (each script is this prelude plus its own
 * body, so one EVALSHA does the whole step atomically).
 *
 * KEYS (see `SharedKeys`): [1] leases ZSET, [2] info HASH, [3] queue ZSET (arrival order),
 * [4] queue-expiry ZSET, [5] fencing counter. ARGV[1] release channel, ARGV[2] '1' to publish
 * with SPUBLISH where the server has it (see release.ts), ARGV[3] fencing-counter retention in
 * ms (0: keep forever); the script's own arguments follow from ARGV[4].
 *
 * - `now` is the server's `TIME` in ms: every lease's ZSET score is its own server-clock
 *   deadline, so a lease expires by its own TTL and never by another caller's TTL or clock
 *   (redis-semaphore's "now minus my TTL" lets a 1 s client purge a 60 s permit). `TIME` before a
 *   write needs effects replication: default since Redis 5, switched on for 3.2 and 4.
 * - `purge()` drops expired leases and lapsed waiter entries first, whoever runs the script. It
 *   walks the expired members one command each and never `unpack`s a list: `unpack` of a few
 *   thousand elements overflows Lua's C stack (redis-semaphore#28), and 10,000 holders may expire
 *   at once.
 * - `announce()` publishes only when something changed that may let the head of the queue in
 *   (a release, an expiry noticed, an entry removed, a grant that left room) and the head now
 *   fits: no queue, no message; a head that still does not fit, no message either.
 * - `fresh_token()` writes the counter without an expiry; the script's `tidy(true)` (or the
 *   acquire's idle-key path) then gives it one.
 * - `tidy(grew)` deletes the state outright once nothing is held or queued (which also forgets
 *   the stored limit, as the SPI asks; an empty ZSET is no key, so one EXISTS tells), and after a
 *   deadline was set gives the four state keys the expiry of the last deadline they hold: they
 *   never outlive their last lease or waiter lease by more than that, so an idle key vanishes by
 *   itself even if nobody runs a script on it again. The fencing counter is a key apart, never deleted
 *   here: its expiry is kept at least `retention` past the last lease deadline, and a fresh token
 *   is floored at the server's time in µs (as the mutex's, see acquire.ts), so tokens do not go
 *   back even once the counter is gone.
 */
export const SHARED_PRELUDE = `
local leases, info, queue, qexp, fence = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local channel, sharded, retention = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local changed = false

local function purge()
  local gone = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  if #gone > 0 then
    for i = 1, #gone do
      local m = gone[i]
      if string.sub(m, 1, 1) == 'w' then
        redis.call('HINCRBY', info, 'nw', -1)
      else
        redis.call('HINCRBY', info, 'used', -(tonumber(redis.call('HGET', info, 'p:' .. m)) or 0))
      end
      redis.call('HDEL', info, 'c:' .. m, 'p:' .. m, 't:' .. m)
    end
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    changed = true
  end
  local lapsed = redis.call('ZRANGEBYSCORE', qexp, '-inf', now)
  if #lapsed > 0 then
    for i = 1, #lapsed do
      redis.call('ZREM', queue, lapsed[i])
      redis.call('HDEL', info, 'q:' .. lapsed[i])
    end
    redis.call('ZREMRANGEBYSCORE', qexp, '-inf', now)
    changed = true
  end
end

local function fits(m, permits)
  local kind = string.sub(m, 1, 1)
  if kind == 'w' then return redis.call('ZCARD', leases) == 0 end
  if kind == 'r' then return (tonumber(redis.call('HGET', info, 'nw')) or 0) <= 0 end
  local limit = tonumber(redis.call('HGET', info, 'limit')) or 0
  return (tonumber(redis.call('HGET', info, 'used')) or 0) + permits <= limit
end

local function announce()
  if not changed then return end
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if not head or not fits(head, tonumber(redis.call('HGET', info, 'q:' .. head)) or 1) then return end
  if sharded == '1' and redis.REDIS_VERSION_NUM then
    redis.call('SPUBLISH', channel, 'released')
  else
    redis.call('PUBLISH', channel, 'released')
  end
end

local function fresh_token()
  local token = clock[1] .. string.sub(1000000 + clock[2], 2)
  local last
  if redis.REDIS_VERSION_NUM then
    -- Redis 7+: write the floor and read the old counter in one SET ... GET (as the mutex).
    last = redis.call('SET', fence, token, 'GET')
  else
    last = redis.call('GET', fence)
  end
  last = tonumber(last) or 0
  if last >= tonumber(token) then
    token = string.format('%.0f', last + 1)
    redis.call('SET', fence, token)
  elseif not redis.REDIS_VERSION_NUM then
    redis.call('SET', fence, token)
  end
  return token
end

local function idle()
  return redis.call('EXISTS', leases, queue) == 0
end

local function tidy(grew)
  if idle() then
    redis.call('DEL', info, qexp)
    return
  end
  if not grew then return end
  local lastLease = tonumber(redis.call('ZRANGE', leases, -1, -1, 'WITHSCORES')[2])
  local lastWaiter = tonumber(redis.call('ZRANGE', qexp, -1, -1, 'WITHSCORES')[2])
  local left = string.format('%.0f', math.max(lastLease or 0, lastWaiter or 0) - now)
  redis.call('PEXPIRE', leases, left)
  redis.call('PEXPIRE', info, left)
  redis.call('PEXPIRE', queue, left)
  redis.call('PEXPIRE', qexp, left)
  if lastLease and retention > 0 then
    local want = lastLease - now + retention
    local pttl = redis.call('PTTL', fence)
    if pttl == -1 or (pttl >= 0 and pttl < want) then
      redis.call('PEXPIRE', fence, string.format('%.0f', want))
    end
  end
end

-- grew: a deadline was set or moved (a grant, a renewal, a queue entry), so the state keys'
-- expiry is raised to the last deadline; otherwise it already covers every deadline left.
local function finish(grew)
  announce()
  tidy(grew)
end
`;
