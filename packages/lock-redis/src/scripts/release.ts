/**
 * Owner-checked release of one hold.
 *
 * KEYS[1] lock hash, KEYS[2] fencing counter.
 * ARGV[1] owner, ARGV[2] fencing-counter retention in ms (0: keep forever), ARGV[3] release
 * channel, ARGV[4] '1' to publish with SPUBLISH (sharded pub/sub) instead of PUBLISH when the server has it
 * (Redis 7.0+, the first version with both SPUBLISH and `redis.REDIS_VERSION_NUM`).
 *
 * The channel goes in ARGV, not KEYS: an ioredis `keyPrefix` rewrites KEYS but not the channel
 * names the subscriber connection subscribes to, so a KEYS channel would silently never match.
 * It carries the same hash tag as the keys, so SPUBLISH stays within the script's slot.
 *
 * Returns 2 (released, and published), 1 (decremented, still held) or 0 (not held: unchanged).
 */
export const RELEASE_LUA = `
local lock, fence = KEYS[1], KEYS[2]
local owner, retention = ARGV[1], tonumber(ARGV[2])
local count = tonumber(redis.call('HGET', lock, owner))
if not count then return 0 end
if count > 1 then
  redis.call('HINCRBY', lock, owner, -1)
  return 1
end
redis.call('DEL', lock)
if retention > 0 then redis.call('PEXPIRE', fence, retention) end
if ARGV[4] == '1' and redis.REDIS_VERSION_NUM then
  redis.call('SPUBLISH', ARGV[3], 'released')
else
  redis.call('PUBLISH', ARGV[3], 'released')
end
return 2
`;
