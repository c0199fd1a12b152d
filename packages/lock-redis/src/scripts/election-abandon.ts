import { ELECTION_ANNOUNCE_LUA } from './election-announce.js';

/** The command the script runs under (see `defineElectionScripts`). */
export const ELECTION_ABANDON_COMMAND = 'dlockElectionAbandonV1';

/**
 * A candidate gave up (timeout, abort, close): remove its queue entry. It never touches the
 * leader. When the candidate was the head and nobody leads, the next one may go now: announced.
 *
 * KEYS[1] leader hash, KEYS[2] candidate queue, KEYS[3] waiter-lease deadlines.
 * ARGV[1] channel, ARGV[2] '1' for SPUBLISH, ARGV[3] owner.
 *
 * Returns 1 when an entry was removed, 0 when there was none.
 */
export const ELECTION_ABANDON_LUA = `
${ELECTION_ANNOUNCE_LUA}
local leader, queue, qexp, owner = KEYS[1], KEYS[2], KEYS[3], ARGV[3]
local head = redis.call('ZRANGE', queue, 0, 0)[1]
redis.call('ZREM', qexp, owner)
if redis.call('ZREM', queue, owner) == 0 then return 0 end
if head == owner and redis.call('EXISTS', leader) == 0 then announce() end
return 1
`;
