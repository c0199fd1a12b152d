import { ELECTION_ANNOUNCE_LUA } from './election-announce.js';

/** The command the script runs under (see `defineElectionScripts`). */
export const ELECTION_RESIGN_COMMAND = 'dlockElectionResignV1';

/**
 * Owner-checked release of one hold of leadership.
 *
 * KEYS[1] leader hash. ARGV[1] channel, ARGV[2] '1' for SPUBLISH, ARGV[3] owner.
 *
 * The last hold deletes the leader hash (value and all: nothing a reader could take for a
 * leader is left) and announces it; the fencing counter stays, with the expiry the grant and
 * renewals gave it, so the next term is still larger.
 *
 * Returns 2 (resigned), 1 (decremented, still leads) or 0 (did not lead: unchanged), as the
 * mutex's release script, so its decoder reads it.
 */
export const ELECTION_RESIGN_LUA = `
${ELECTION_ANNOUNCE_LUA}
local leader = KEYS[1]
if redis.call('HGET', leader, 'owner') ~= ARGV[3] then return 0 end
if redis.call('HINCRBY', leader, 'count', -1) > 0 then return 1 end
redis.call('DEL', leader)
announce()
return 2
`;
