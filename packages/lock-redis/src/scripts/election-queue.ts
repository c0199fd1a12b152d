/**
 * Lua that defines the candidate queue's helpers for the election scripts (after
 * `ELECTION_ANNOUNCE_LUA`). Needs the locals `queue` and `qexp` (KEYS, see `ElectionKeys`).
 *
 * - `now_ms()` / `now_us()`: the server's `TIME` (read once per script); every waiter lease is a
 *   deadline on Redis's clock, never the caller's.
 * - `drop_lapsed()` removes the candidates whose waiter lease ran out (a dead or frozen process
 *   delays the queue by at most its lease) and says whether it removed any.
 * - `tidy_queue()` gives both ZSETs the expiry of the last waiter deadline they hold, so an idle
 *   queue vanishes by itself even if nobody runs a script on it again (an empty ZSET is no key).
 *
 * A candidate's place is its arrival, the server's time in µs but at least one above the tail's
 * (a clock step back never puts a newcomer ahead), formatted with %.0f: Lua's tostring would
 * print a 16-digit number as 1.7e+15 and lose the order.
 */
export const ELECTION_QUEUE_LUA = `
local clock = redis.call('TIME')
local function now_ms()
  return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end

local function drop_lapsed()
  local lapsed = redis.call('ZRANGEBYSCORE', qexp, '-inf', now_ms())
  if #lapsed == 0 then return false end
  for i = 1, #lapsed do redis.call('ZREM', queue, lapsed[i]) end
  redis.call('ZREMRANGEBYSCORE', qexp, '-inf', now_ms())
  return true
end

local function tidy_queue()
  local last = redis.call('ZRANGE', qexp, -1, -1, 'WITHSCORES')[2]
  if not last then return end
  local left = string.format('%.0f', tonumber(last) - now_ms())
  redis.call('PEXPIRE', queue, left)
  redis.call('PEXPIRE', qexp, left)
end

local function enqueue(owner, ttl)
  if not redis.call('ZSCORE', queue, owner) then
    local arrival = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
    local tail = tonumber(redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')[2])
    if tail and tail >= arrival then arrival = tail + 1 end
    redis.call('ZADD', queue, string.format('%.0f', arrival), owner)
  end
  redis.call('ZADD', qexp, string.format('%.0f', now_ms() + ttl), owner)
  tidy_queue()
end
`;
