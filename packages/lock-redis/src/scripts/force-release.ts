/** The command the script runs under (see `defineScripts`). */
export const FORCE_RELEASE_COMMAND = 'dlockForceReleaseV2';

/**
 * Operator escape hatch: delete the lock whoever holds it, announcing the release like a normal
 * one (always: it is rare, and the caller may not know who waits). The fencing counter stays
 * (only its retention is applied), so later grants still get larger tokens; the evicted holder
 * finds out at its next owner-checked renewal.
 *
 * KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiter flag.
 * ARGV[1] fencing-counter retention in ms (0: keep forever), ARGV[2] release channel, ARGV[3] '1'
 * for SPUBLISH where the server has it (see release.ts).
 *
 * Returns 1 when a lock was deleted, 0 when there was none.
 */
export const FORCE_RELEASE_LUA = `
local lock, fence, wait = KEYS[1], KEYS[2], KEYS[3]
local retention = tonumber(ARGV[1])
if redis.call('DEL', lock) == 0 then return 0 end
redis.call('DEL', wait)
if retention > 0 then redis.call('PEXPIRE', fence, retention) end
if ARGV[3] == '1' and redis.REDIS_VERSION_NUM then
  redis.call('SPUBLISH', ARGV[2], 'released')
else
  redis.call('PUBLISH', ARGV[2], 'released')
end
return 1
`;
