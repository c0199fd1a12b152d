import type { AcquireResult } from '@dlock/lock-core';

/** The command the script runs under (see `defineScripts`). */
export const ACQUIRE_COMMAND = 'dlockAcquireV4';

/**
 * A fresh grant's fencing token (see above), as Lua run right after the lock was written: sets
 * `token` and stores it as the counter. Needs the locals `fence`, `ttl` and `retention`; shared
 * with the hand-over script, whose grants follow the same rule.
 */
export const FRESH_TOKEN_LUA = freshTokenLua('');

function freshTokenLua(floor: string): string {
  return `  local now = redis.call('TIME')
  local token = now[1] .. string.sub(1000000 + now[2], 2)
${floor}  local keep = retention > 0 and {'PX', ttl + retention} or {}
  local last
  if redis.REDIS_VERSION_NUM then
    -- Redis 7+: write the floor and read the old counter in one SET ... GET.
    last = redis.call('SET', fence, token, 'GET', unpack(keep))
  else
    last = redis.call('GET', fence)
  end
  last = tonumber(last) or 0
  if last >= tonumber(token) then
    token = string.format('%.0f', last + 1)
    redis.call('SET', fence, token, unpack(keep))
  elseif not redis.REDIS_VERSION_NUM then
    redis.call('SET', fence, token, unpack(keep))
  end
`;
}

/** The caller's floor (ARGV[4], with the slack ARGV[5]), when given: see above. */
const CALLER_FLOOR_LUA = `  if ARGV[4] then
    local own = tonumber(token) - tonumber(ARGV[5])
    local given = tonumber(ARGV[4])
    token = string.format('%.0f', given > own and given or own)
  end
`;

/**
 * Acquire or re-enter, atomically.
 *
 * KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiter flag (all in one hash slot).
 * ARGV[1] owner, ARGV[2] ttl in ms, ARGV[3] fencing-counter retention in ms (0: keep forever),
 * ARGV[4] (optional) the caller's time floor in µs since the epoch, ARGV[5] its slack in µs.
 *
 * Returns {1, token, ttl} for a fresh grant, {2, token, ttl} for a re-entry and {0, pttl} when
 * another owner holds the key. Tokens travel as decimal strings.
 *
 * The lock has two shapes. A first hold, by far the common case, is a plain string whose value is
 * the owner, written by one `SET NX PX`. A re-entry turns it into a hash {owner -> hold count}
 * with the same expiry, and it stays a hash until released (a hash with count 1 is a valid hold
 * too; older versions of this package always wrote the hash, so it is also what they leave
 * behind). Telling the shapes apart costs nothing on the common path: `GET` on a hash fails
 * (WRONGTYPE), which `redis.pcall` returns as a table instead of raising.
 *
 * The waiter flag says "someone may be waiting for a release message": every refused acquire
 * sets it. The release script publishes only when it finds the flag (and deletes it), so an
 * uncontended release never publishes. The flag lives at least as long as the lock it was set
 * against (expiry `pttl`; renewals and re-entries push it along), so a waiter whose last attempt
 * was refused hears the next release. Waiters in the holder's own client need no message: the
 * core wakes them itself when it sends the release (`orderedRequests`), and a waiter elsewhere
 * always asks once its watch is live, so it is refused (and flags the key) before it waits.
 *
 * A fresh token is max(counter + 1, server time in µs since the epoch), stored back as the
 * counter. The time floor is what keeps tokens from going back when the counter is lost (its
 * retention ran out, eviction, a restart without persistence, a failover to a replica that missed
 * the last grant): the next grant then starts above every earlier token, as long as the server's
 * clock did not step back by more than the time since that token was issued. The counter + 1
 * keeps tokens strictly increasing within one microsecond and across a clock step back.
 * `TIME` in a script that writes needs effects replication: the default since Redis 5, switched
 * on explicitly (before the first write) for 3.2 and 4 (Redis 7 keeps `replicate_commands` as a
 * no-op).
 *
 * On Redis 7+ (`redis.REDIS_VERSION_NUM`, which also has `SET ... GET`) the floor is written
 * first and the old counter read back in the same command; only when the counter was at or above
 * the floor (the same microsecond, or the clock stepped back) is it written a second time.
 * The time floor is spelled out from TIME's two strings (seconds, then the microseconds padded to
 * six digits) rather than formatted from a number: `string.format` costs more than the rest of
 * the arithmetic. Lua numbers are doubles: exact below 2^53 (µs since the epoch stay below that
 * until the year 2255), compared as numbers, and a counter + 1 is formatted with %.0f because
 * tostring would print 1.8e+15.
 *
 * With ARGV[4] (Redlock: the same value sent to every node) the floor is max(ARGV[4], server time
 * - ARGV[5]) instead of the server time: nodes whose counters agree then answer the same token
 * (their clocks differ by microseconds, so their own times never would), and Redlock's step that
 * raises lagging counters to the token (one more round trip) is needed only when they disagree.
 * The server's own time still floors the token, less the slack: a lost counter still restarts
 * above every token issued more than the slack ago (see redlock's acquire.ts for why that holds).
 *
 * The holder's token is simply the counter's current value: only a fresh grant writes it, and no
 * other grant can happen while the lock exists, so re-entry reads it back instead of storing a
 * copy with the hold.
 */
export const ACQUIRE_LUA = `
local lock, fence, wait = KEYS[1], KEYS[2], KEYS[3]
local owner, ttl, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.replicate_commands then redis.replicate_commands() end
if redis.call('SET', lock, owner, 'NX', 'PX', ttl) then
${freshTokenLua(CALLER_FLOOR_LUA)}  return {1, token, ttl}
end
${reentryLua("    redis.call('PEXPIRE', wait, ttl)\n")}local pttl = redis.call('PTTL', lock)
if pttl > 0 then
  redis.call('SET', wait, '1', 'PX', pttl)
else
  redis.call('SET', wait, '1')
end
return {0, pttl}
`;

/**
 * Re-entry, as Lua run after a refused `SET NX` (see above): when `owner` holds the lock (the
 * string shape is turned into the hash first), count plus one, expiry raised to at least `ttl`
 * (`pushFlag`, Lua run then, raises the waiter flag's along), and it returns {2, token, pttl}.
 * Needs the locals `lock`, `fence`, `owner`, `ttl` and `retention`, and leaves `held` (the
 * lock's `GET`) behind. Shared with the fair acquire (fair/scripts.ts), which has no flag.
 */
export function reentryLua(pushFlag: string): string {
  return `local held = redis.pcall('GET', lock)
local mine = held == owner
if mine then
  local pttl = redis.call('PTTL', lock)
  redis.call('DEL', lock)
  redis.call('HSET', lock, owner, 1)
  if pttl > 0 then redis.call('PEXPIRE', lock, pttl) end
elseif type(held) == 'table' then
  mine = redis.call('HEXISTS', lock, owner) == 1
end
if mine then
  redis.call('HINCRBY', lock, owner, 1)
  local pttl = redis.call('PTTL', lock)
  if pttl < ttl then
    redis.call('PEXPIRE', lock, ttl)
${pushFlag}    pttl = ttl
  end
  if retention > 0 then redis.call('PEXPIRE', fence, pttl + retention) end
  return {2, redis.call('GET', fence) or '0', pttl}
end
`;
}

/** Decodes the script's reply: `[0, pttl]` or `[1|2, token, ttl]`. */
export function decodeAcquireReply(reply: unknown): AcquireResult {
  const [status, second, third] = reply as [number, string | number, number?];
  if (status === 0) {
    const pttl = Number(second);
    return { acquired: false, retryAfterMs: pttl >= 0 ? pttl : undefined };
  }
  return {
    acquired: true,
    fencingToken: BigInt(second),
    reentered: status === 2,
    ttlMs: Number(third),
  };
}
