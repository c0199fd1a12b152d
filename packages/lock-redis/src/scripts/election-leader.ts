import type { LeaderState } from '@dlock/lock-core/spi';

/** The command the script runs under (see `defineElectionScripts`). */
export const ELECTION_LEADER_COMMAND = 'dlockElectionLeaderV1';

/**
 * Read the leader in one atomic step, so owner, value, term and remaining lease belong to the
 * same grant. KEYS[1] leader hash.
 *
 * Returns false (nil) when there is no live leader, else {owner, value, term, pttl}.
 */
export const ELECTION_LEADER_LUA = `
local held = redis.call('HMGET', KEYS[1], 'owner', 'value', 'term')
if not held[1] then return false end
return {held[1], held[2] or '', held[3] or '0', redis.call('PTTL', KEYS[1])}
`;

/** Decodes the script's reply. */
export function decodeLeaderReply(reply: unknown): LeaderState | null {
  const decoded = reply as [string, string, string, number] | null;
  if (!decoded) return null;
  const [owner, value, term, pttl] = decoded;
  return {
    owner,
    value,
    term: BigInt(term),
    ttlMs: pttl >= 0 ? pttl : Number.POSITIVE_INFINITY,
  };
}
