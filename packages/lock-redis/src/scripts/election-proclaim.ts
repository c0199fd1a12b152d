import { ELECTION_ANNOUNCE_LUA } from './election-announce.js';

/** The command the script runs under (see `defineElectionScripts`). */
export const ELECTION_PROCLAIM_COMMAND = 'dlockElectionProclaimV1';

/**
 * Owner-checked value change of the live leader: one HSET, so the term and the expiry stay as
 * they are, then the change is announced.
 *
 * KEYS[1] leader hash. ARGV[1] channel, ARGV[2] '1' for SPUBLISH, ARGV[3] owner, ARGV[4] value.
 *
 * Returns 1 when proclaimed, 0 when the owner does not lead.
 */
export const ELECTION_PROCLAIM_LUA = `
${ELECTION_ANNOUNCE_LUA}
local leader = KEYS[1]
if redis.call('HGET', leader, 'owner') ~= ARGV[3] then return 0 end
redis.call('HSET', leader, 'value', ARGV[4])
announce()
return 1
`;
