import type { RedisClientLike } from '../client-types.js';
import { reentryLua } from '../scripts/acquire.js';
import { FAIR_PRELUDE } from './fair-prelude.js';

/**
 * The fair lock's scripts (`fair: true`), each the prelude (see `FAIR_PRELUDE` for KEYS and the
 * first three ARGV) plus its body. Renewal, inspect, list and purge are the mutex's own scripts:
 * a fair lock is the mutex's lock, with a queue beside it.
 */

/**
 * Acquire, claim or re-enter, atomically. ARGV[4] owner, ARGV[5] ttl in ms, ARGV[6] '1' when the
 * caller waits if refused (`AcquireRequest.queue`).
 *
 * Granted only if the lock is free and the queue is empty or its head is the caller, so a plain
 * `tryAcquire` never barges past a waiter. A caller that holds the lock while still queued was
 * granted it by a release (`pass_on`): it claims it, taking its own TTL and leaving the queue,
 * and its token is the counter's (nobody else can be granted while it holds). Otherwise as the
 * mutex's acquire (re-entry), and a refusal queues a waiting caller (`refuse`).
 *
 * Replies as the mutex's acquire: {1, token, ttl}, {2, token, pttl}, {0, pttl or retry}.
 */
const FAIR_ACQUIRE_LUA = `${FAIR_PRELUDE}
local owner, ttl = ARGV[4], tonumber(ARGV[5])
purge()
local granted = admit(owner, ttl)
if granted then return granted end
if redis.pcall('GET', lock) == owner and redis.call('ZSCORE', queue, owner) then
  redis.call('PEXPIRE', lock, ttl)
  leave(owner)
  if retention > 0 then redis.call('PEXPIRE', fence, ttl + retention) end
  return {1, redis.call('GET', fence), ttl}
end
${reentryLua('')}return refuse(owner, ttl, ARGV[6] == '1')
`;

/**
 * Owner-checked release of one hold. ARGV[4] owner. The last hold passes the lock on to the
 * queue's head (`pass_on`), or deletes it when nobody waits: an uncontended release publishes
 * nothing. Returns 2 (released), 1 (decremented) or 0 (not held), as the mutex's release.
 */
const FAIR_RELEASE_LUA = `${FAIR_PRELUDE}
local released = unhold(ARGV[4])
if released == 2 then
  purge()
  pass_on()
end
return released
`;

/**
 * Cohort hand-off in fair mode (see hand-over.ts for the SPI): ARGV[4] from, ARGV[5] to (a
 * waiting owner), ARGV[6] its ttl in ms, ARGV[7] '1' to queue `to` if refused (its `queue`). The lock goes to `to` in the same step only when the
 * queue lets it in (empty, or `to` at its head); otherwise the release passes it on to the head
 * as `release` does and `to` is refused (and queued): the queue's order wins over the client's
 * cohort, so the core's `yieldToOthers` is not needed (nor read). When `from` keeps re-entries or
 * did not hold the key, `to` asks as the acquire script would.
 *
 * Returns {released, 1, token, ttl} when `to` got the lock, {released, 0, retry} when refused.
 */
const FAIR_HAND_OVER_LUA = `${FAIR_PRELUDE}
local from, to, ttl = ARGV[4], ARGV[5], tonumber(ARGV[6])
local released = unhold(from)
purge()
if released == 2 then
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if not head or head == to then
    local token = grant(to, ttl)
    leave(to)
    return {2, 1, token, ttl}
  end
  pass_on()
end
local granted = admit(to, ttl)
if granted then return {released, 1, granted[2], granted[3]} end
local refused = refuse(to, ttl, ARGV[7] == '1')
return {released, 0, refused[2]}
`;

/**
 * A waiter gave up: ARGV[4] owner. Its entry goes; if a release had already granted it the lock
 * (never claimed), or it was the head of a free lock, the lock passes on to the next head.
 * Never touches a lock its owner claimed. Returns 1 when an entry was removed, 0 otherwise.
 */
const FAIR_ABANDON_LUA = `${FAIR_PRELUDE}
local owner = ARGV[4]
purge()
local rank = redis.call('ZRANK', queue, owner)
if not rank then return 0 end
leave(owner)
if redis.pcall('GET', lock) == owner or (rank == 0 and redis.call('EXISTS', lock) == 0) then
  pass_on()
end
return 1
`;

/** Command names (versioned, as `COMMANDS`) and their scripts. */
export const FAIR_SCRIPTS = {
  dlockFairAcquireV1: FAIR_ACQUIRE_LUA,
  dlockFairReleaseV1: FAIR_RELEASE_LUA,
  dlockFairHandOverV1: FAIR_HAND_OVER_LUA,
  dlockFairAbandonV1: FAIR_ABANDON_LUA,
} as const;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

/** The fair scripts as callable methods on the client. */
export type FairCommands = Record<keyof typeof FAIR_SCRIPTS, ScriptCall>;

const defined = new WeakSet<object>();

/** Registers the fair scripts on `client` once (five keys each). */
export function defineFairScripts(client: RedisClientLike): FairCommands {
  if (!defined.has(client)) {
    for (const [name, lua] of Object.entries(FAIR_SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys: 5, lua });
    }
    defined.add(client);
  }
  return client as unknown as FairCommands;
}
