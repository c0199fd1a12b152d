/** The command the script runs under (see `defineScripts`). */
export const SHARED_INSPECT_COMMAND = 'dlockSharedInspectV1';

/**
 * Read a shared key in one atomic step (read-only: it purges nothing, it only skips what the
 * server's clock says has expired). KEYS as `SHARED_PRELUDE`'s.
 *
 * Returns false (nil) when nobody holds or waits, else {limit or '', live waiters, {member,
 * count, permits, token, pttl, ...}} with the leases in deadline order.
 */
export const SHARED_INSPECT_LUA = `
local leases, info, qexp = KEYS[1], KEYS[2], KEYS[4]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local after = '(' .. string.format('%.0f', now)
local live = redis.call('ZRANGEBYSCORE', leases, after, '+inf', 'WITHSCORES')
local waiters = redis.call('ZCOUNT', qexp, after, '+inf')
if #live == 0 and waiters == 0 then return false end
local out = {}
for i = 1, #live, 2 do
  local m = live[i]
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', info, 'c:' .. m) or '1'
  out[#out + 1] = redis.call('HGET', info, 'p:' .. m) or '1'
  out[#out + 1] = redis.call('HGET', info, 't:' .. m) or '0'
  out[#out + 1] = string.format('%.0f', tonumber(live[i + 1]) - now)
end
return {redis.call('HGET', info, 'limit') or '', waiters, out}
`;
