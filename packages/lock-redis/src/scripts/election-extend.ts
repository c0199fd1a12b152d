/** The command the script runs under (see `defineElectionScripts`). */
export const ELECTION_EXTEND_COMMAND = 'dlockElectionExtendV1';

/**
 * Owner-checked renewal of the leader's lease: PEXPIRE only, so a lapsed leadership is never
 * re-created (the candidate must campaign again, for a new term).
 *
 * KEYS[1] leader hash, KEYS[2] fencing counter. ARGV[1] owner, ARGV[2] ttl in ms, ARGV[3]
 * fencing-counter retention in ms (0: keep forever).
 *
 * Returns 1 when renewed, 0 when the owner does not lead.
 */
export const ELECTION_EXTEND_LUA = `
local leader, fence = KEYS[1], KEYS[2]
local ttl, retention = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('HGET', leader, 'owner') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', leader, ttl)
if retention > 0 then redis.call('PEXPIRE', fence, ttl + retention) end
return 1
`;
