/**
 * Acquire or re-enter, atomically.
 *
 * KEYS[1] lock hash {owner -> hold count}, KEYS[2] fencing counter (same hash slot).
 * ARGV[1] owner, ARGV[2] ttl in ms, ARGV[3] fencing-counter retention in ms (0: keep forever).
 *
 * Returns {1, token, ttl} for a fresh grant, {2, token, ttl} for a re-entry and {0, pttl} when
 * another owner holds the key. A fresh token is INCR's integer reply (exact: a counter would
 * need 2^53 grants before a Lua double loses precision); a re-entry reads the counter's string.
 *
 * The holder's token is simply the counter's current value: only a fresh grant INCRs it, and no
 * other grant can happen while the lock exists, so re-entry reads it back instead of storing a
 * copy in the hash (which would need a field name no owner string can collide with).
 */
export const ACQUIRE_LUA = `
local lock, fence = KEYS[1], KEYS[2]
local owner, ttl, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', lock) == 0 then
  redis.call('HSET', lock, owner, 1)
  redis.call('PEXPIRE', lock, ttl)
  local token = redis.call('INCR', fence)
  if retention > 0 then redis.call('PEXPIRE', fence, ttl + retention) end
  return {1, token, ttl}
end
if redis.call('HEXISTS', lock, owner) == 1 then
  redis.call('HINCRBY', lock, owner, 1)
  local pttl = redis.call('PTTL', lock)
  if pttl < ttl then
    redis.call('PEXPIRE', lock, ttl)
    pttl = ttl
  end
  if retention > 0 then redis.call('PEXPIRE', fence, pttl + retention) end
  return {2, redis.call('GET', fence) or '0', pttl}
end
return {0, redis.call('PTTL', lock)}
`;
