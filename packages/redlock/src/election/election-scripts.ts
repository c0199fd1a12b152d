import type { RedlockNode } from '../node.js';

/**
 * The per-node Lua of Redlock's elections, one atomic step each on one node. The names are
 * versioned (as lock-redis's scripts), so two copies of this package with different scripts
 * sharing one client never overwrite each other's definitions.
 *
 * Every script takes KEYS[1] the leader hash and KEYS[2] the term counter (see `ElectionKeys`);
 * the writing ones publish on the channel (ARGV[1], classic PUBLISH: each node is a standalone
 * master) when the leader or its value changed.
 */
export const ELECTION_COMMANDS = {
  campaign: 'dlockRedlockElectionCampaignV1',
  raise: 'dlockRedlockElectionRaiseV1',
  extend: 'dlockRedlockElectionExtendV1',
  proclaim: 'dlockRedlockElectionProclaimV1',
  resign: 'dlockRedlockElectionResignV1',
  leader: 'dlockRedlockElectionLeaderV1',
} as const;

/**
 * Grant, re-enter or refuse leadership on this node.
 *
 * ARGV[1] channel, ARGV[2] owner, ARGV[3] ttl in ms, ARGV[4] counter retention in ms (0: keep
 * forever), ARGV[5] value, ARGV[6] the caller's time floor in µs, ARGV[7] its slack in µs.
 *
 * No leader hash (none yet, resigned, or expired by its PX): a fresh grant, whose term is the
 * mutex's fresh token (lock-redis's acquire script): max(counter + 1, the caller's floor, the
 * node's own time in µs less the slack), stored back as the counter. Every node of one attempt
 * gets the same floor, so nodes whose counters agree answer the same term. Owner, value, term and
 * count are written with the expiry in one step. The leader's own owner re-enters: count plus
 * one, expiry raised to at least `ttl`, the new value proclaimed.
 *
 * Returns {1, term, ttl}, {2, term, pttl} or {0, pttl}, as the mutex's acquire script (so
 * lock-redis's `decodeAcquireReply` reads it). Terms travel as decimal strings.
 */
const CAMPAIGN_LUA = `
local leader, fence = KEYS[1], KEYS[2]
local owner, ttl, retention, value = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if redis.replicate_commands then redis.replicate_commands() end
local held = redis.call('HMGET', leader, 'owner', 'value', 'term')
if not held[1] then
  local now = redis.call('TIME')
  local own = tonumber(now[1] .. string.sub(1000000 + now[2], 2)) - tonumber(ARGV[7])
  local given = tonumber(ARGV[6])
  local token = given > own and given or own
  local last = tonumber(redis.call('GET', fence)) or 0
  if last >= token then token = last + 1 end
  token = string.format('%.0f', token)
  if retention > 0 then
    redis.call('SET', fence, token, 'PX', ttl + retention)
  else
    redis.call('SET', fence, token)
  end
  redis.call('HSET', leader, 'owner', owner, 'value', value, 'term', token, 'count', 1)
  redis.call('PEXPIRE', leader, ttl)
  redis.call('PUBLISH', ARGV[1], 'elected')
  return {1, token, ttl}
end
if held[1] == owner then
  redis.call('HINCRBY', leader, 'count', 1)
  local pttl = redis.call('PTTL', leader)
  if pttl < ttl then
    redis.call('PEXPIRE', leader, ttl)
    pttl = ttl
  end
  if retention > 0 then redis.call('PEXPIRE', fence, pttl + retention) end
  if held[2] ~= value then
    redis.call('HSET', leader, 'value', value)
    redis.call('PUBLISH', ARGV[1], 'proclaimed')
  end
  return {2, held[3], pttl}
end
return {0, redis.call('PTTL', leader)}
`;

/**
 * Raises this node's term of the owner's fresh grant to the term of the whole grant (the largest
 * of the majority), and its counter with it (never lowering it), as the mutex's counter alignment.
 * ARGV[1] owner, ARGV[2] term, ARGV[3] counter retention in ms. Returns 1, or 0 when the owner
 * no longer leads on this node.
 */
const RAISE_LUA = `
local leader, fence = KEYS[1], KEYS[2]
if redis.call('HGET', leader, 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', leader, 'term', ARGV[2])
local last = tonumber(redis.call('GET', fence)) or 0
if last < tonumber(ARGV[2]) then
  local retention = tonumber(ARGV[3])
  if retention > 0 then
    redis.call('SET', fence, ARGV[2], 'PX', redis.call('PTTL', leader) + retention)
  else
    redis.call('SET', fence, ARGV[2])
  end
end
return 1
`;

/**
 * Owner-checked renewal: PEXPIRE only, so an expired leader is never revived. ARGV[1] owner,
 * ARGV[2] ttl in ms, ARGV[3] counter retention in ms. Returns 1 when renewed.
 */
const EXTEND_LUA = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local retention = tonumber(ARGV[3])
if retention > 0 then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) + retention) end
return 1
`;

/** Owner-checked value change, keeping term and expiry. ARGV[2] owner, ARGV[3] value. 1: done. */
const PROCLAIM_LUA = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[1], 'value') ~= ARGV[3] then
  redis.call('HSET', KEYS[1], 'value', ARGV[3])
  redis.call('PUBLISH', ARGV[1], 'proclaimed')
end
return 1
`;

/**
 * Owner-checked resign of one hold. ARGV[2] owner. Returns 0 not held, 1 decremented, 2 released
 * (as the mutex's release script, so lock-redis's `decodeReleaseReply` reads it). A release
 * deletes the hash and leaves the counter: only the term stays behind.
 */
const RESIGN_LUA = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return 0 end
if redis.call('HINCRBY', KEYS[1], 'count', -1) > 0 then return 1 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], 'resigned')
return 2
`;

/** The leader on this node: {owner, value, term, pttl}, or nil. */
const LEADER_LUA = `
local held = redis.call('HMGET', KEYS[1], 'owner', 'value', 'term')
if not held[1] then return nil end
return {held[1], held[2], held[3], redis.call('PTTL', KEYS[1])}
`;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;
/** The election scripts of one node as callable methods (they exist once defined). */
export type ElectionScripts = Record<
  (typeof ELECTION_COMMANDS)[keyof typeof ELECTION_COMMANDS],
  ScriptCall
>;

const defined = new WeakSet<object>();

/** The node's election scripts, registered on its client on first use. */
export function electionScripts(node: RedlockNode): ElectionScripts {
  const { client } = node;
  if (!defined.has(client)) {
    client.defineCommand(ELECTION_COMMANDS.campaign, { numberOfKeys: 2, lua: CAMPAIGN_LUA });
    client.defineCommand(ELECTION_COMMANDS.raise, { numberOfKeys: 2, lua: RAISE_LUA });
    client.defineCommand(ELECTION_COMMANDS.extend, { numberOfKeys: 2, lua: EXTEND_LUA });
    client.defineCommand(ELECTION_COMMANDS.proclaim, { numberOfKeys: 1, lua: PROCLAIM_LUA });
    client.defineCommand(ELECTION_COMMANDS.resign, { numberOfKeys: 1, lua: RESIGN_LUA });
    client.defineCommand(ELECTION_COMMANDS.leader, { numberOfKeys: 1, lua: LEADER_LUA });
    defined.add(client);
  }
  return client as unknown as ElectionScripts;
}

/** One node's leader, as the leader script answers. */
export interface NodeLeader {
  readonly owner: string;
  readonly value: string;
  readonly term: bigint;
  readonly ttlMs: number;
}

/** Decodes the leader script's reply. */
export function decodeLeaderReply(reply: unknown): NodeLeader | null {
  if (reply === null || reply === undefined) return null;
  const [owner, value, term, pttl] = reply as [string, string | null, string, number];
  return { owner, value: value ?? '', term: BigInt(term), ttlMs: Number(pttl) };
}
