/**
 * Owner-checked release of one hold.
 *
 * KEYS[1] lock (a string holding the owner, or a hash {owner -> count}: see acquire.ts),
 * KEYS[2] fencing counter, KEYS[3] waiter flag.
 * ARGV[1] owner, ARGV[2] fencing-counter retention in ms (0: keep forever), ARGV[3] release
 * channel, ARGV[4] '1' to publish with SPUBLISH (sharded pub/sub) instead of PUBLISH when the server has it
 * (Redis 7.0+, the first version with both SPUBLISH and `redis.REDIS_VERSION_NUM`).
 *
 * The release message goes out only when the waiter flag is set (someone was refused, or the
 * holder's client had local waiters, since the last release): an uncontended release is a GET,
 * a DEL, the counter's retention and a DEL of the absent flag.
 *
 * The channel goes in ARGV, not KEYS: an ioredis `keyPrefix` rewrites KEYS but not the channel
 * names the subscriber connection subscribes to, so a KEYS channel would silently never match.
 * It carries the same hash tag as the keys, so SPUBLISH stays within the script's slot.
 *
 * Returns 2 (released), 1 (decremented, still held) or 0 (not held: unchanged).
 */
export const RELEASE_LUA = `
local lock, fence, wait = KEYS[1], KEYS[2], KEYS[3]
local owner, retention = ARGV[1], tonumber(ARGV[2])
local held = redis.pcall('GET', lock)
if held ~= owner then
  if type(held) ~= 'table' then return 0 end
  local count = tonumber(redis.call('HGET', lock, owner))
  if not count then return 0 end
  if count > 1 then
    redis.call('HINCRBY', lock, owner, -1)
    return 1
  end
end
redis.call('DEL', lock)
if retention > 0 then redis.call('PEXPIRE', fence, retention) end
if redis.call('DEL', wait) == 1 then
  if ARGV[4] == '1' and redis.REDIS_VERSION_NUM then
    redis.call('SPUBLISH', ARGV[3], 'released')
  else
    redis.call('PUBLISH', ARGV[3], 'released')
  end
end
return 2
`;
