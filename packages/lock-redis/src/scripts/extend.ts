/**
 * Owner-checked renewal: PEXPIRE only, so an expired (deleted) lock is never re-created.
 *
 * KEYS[1] lock hash, KEYS[2] fencing counter.
 * ARGV[1] owner, ARGV[2] ttl in ms, ARGV[3] fencing-counter retention in ms (0: keep forever).
 *
 * Returns 1 when renewed, 0 when the owner does not hold the lock.
 */
export const EXTEND_LUA = `
local lock, fence = KEYS[1], KEYS[2]
local owner, ttl, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('HEXISTS', lock, owner) == 0 then return 0 end
redis.call('PEXPIRE', lock, ttl)
if retention > 0 then redis.call('PEXPIRE', fence, ttl + retention) end
return 1
`;
