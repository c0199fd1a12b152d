/** The command the script runs under (see `defineScripts`). */
export const EXTEND_COMMAND = 'dlockExtendV2';

/**
 * Owner-checked renewal: PEXPIRE only, so an expired (deleted) lock is never re-created.
 *
 * KEYS[1] lock (string or hash: see acquire.ts), KEYS[2] fencing counter, KEYS[3] waiter flag.
 * ARGV[1] owner, ARGV[2] ttl in ms, ARGV[3] fencing-counter retention in ms (0: keep forever).
 *
 * The waiter flag, when set, is renewed with the lock so that it never expires before the hold
 * it was set against (see acquire.ts).
 *
 * Returns 1 when renewed, 0 when the owner does not hold the lock.
 */
export const EXTEND_LUA = `
local lock, fence, wait = KEYS[1], KEYS[2], KEYS[3]
local owner, ttl, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.pcall('GET', lock)
if held ~= owner then
  if type(held) ~= 'table' or redis.call('HEXISTS', lock, owner) == 0 then return 0 end
end
redis.call('PEXPIRE', lock, ttl)
redis.call('PEXPIRE', wait, ttl)
if retention > 0 then redis.call('PEXPIRE', fence, ttl + retention) end
return 1
`;
