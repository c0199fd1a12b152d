import type { HandOverResult, ReleaseResult } from '@dlock/lock-core/spi';
import { FRESH_TOKEN_LUA } from './acquire.js';

/** The command the script runs under (see `defineScripts`). */
export const HAND_OVER_COMMAND = 'dlockHandOverV1';

/**
 * Cohort hand-off: release `from`'s hold and grant the lock to `to` in one step, so a lock
 * passed between two waiters of one client costs one script instead of a release and an acquire.
 *
 * KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiter flag (as in acquire.ts).
 * ARGV[1] from (the releasing owner), ARGV[2] to (a waiting owner, which never holds the key:
 * the core offers hand-overs to waiters only), ARGV[3] ttl in ms for `to`, ARGV[4] fencing-counter
 * retention in ms, ARGV[5] release channel, ARGV[6] '1' for SPUBLISH (see release.ts), ARGV[7]
 * '1' to yield to others.
 *
 * When `from` gave up its last hold, the lock is rewritten for `to` (a `SET` replaces the string
 * or the re-entry hash alike) without ever being free, so no release is published, and `to` gets
 * a fresh token by the acquire script's rule: strictly above `from`'s and every earlier one. The
 * waiter flag is pushed along with the new hold, as a re-entry does, so a waiter elsewhere that
 * was refused still hears the release that ends the run. Yielding, with the flag set (someone was
 * refused since the last release): a plain release, published, and `to` is refused; without the
 * flag nobody else waits and the hand-over goes ahead.
 *
 * When `from` still holds re-entries or did not hold the key, each half acts as its own script
 * would: `to` is granted only if the key is free, else refused (setting the flag).
 *
 * Returns {released, 1, token, ttl} when `to` got the lock, {released, 0, pttl} when refused
 * (pttl absent after a yield), released being 2 (released), 1 (decremented) or 0 (not held).
 */
export const HAND_OVER_LUA = `
local lock, fence, wait = KEYS[1], KEYS[2], KEYS[3]
local from, to, ttl, retention = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.replicate_commands then redis.replicate_commands() end
local held = redis.pcall('GET', lock)
local released = 0
if held == from then
  released = 2
elseif type(held) == 'table' then
  local count = tonumber(redis.call('HGET', lock, from))
  if count and count > 1 then
    redis.call('HINCRBY', lock, from, -1)
    released = 1
  elseif count then
    released = 2
  end
end
if released == 2 then
  if ARGV[7] == '1' and redis.call('EXISTS', wait) == 1 then
    redis.call('DEL', lock, wait)
    if ARGV[6] == '1' and redis.REDIS_VERSION_NUM then
      redis.call('SPUBLISH', ARGV[5], 'released')
    else
      redis.call('PUBLISH', ARGV[5], 'released')
    end
    return {2, 0}
  end
  redis.call('SET', lock, to, 'PX', ttl)
  redis.call('PEXPIRE', wait, ttl)
${FRESH_TOKEN_LUA}  return {2, 1, token, ttl}
end
if released == 0 and redis.call('SET', lock, to, 'NX', 'PX', ttl) then
${FRESH_TOKEN_LUA}  return {0, 1, token, ttl}
end
local pttl = redis.call('PTTL', lock)
if pttl > 0 then
  redis.call('SET', wait, '1', 'PX', pttl)
else
  redis.call('SET', wait, '1')
end
return {released, 0, pttl}
`;

const RELEASED: Record<number, ReleaseResult> = { 0: 'not-held', 1: 'decremented', 2: 'released' };

/** Decodes the script's reply. */
export function decodeHandOverReply(reply: unknown): HandOverResult {
  const [released, granted, second, third] = reply as [number, number, string | number, number?];
  const next: HandOverResult['next'] =
    Number(granted) === 1
      ? { acquired: true, fencingToken: BigInt(second), reentered: false, ttlMs: Number(third) }
      : {
          acquired: false,
          retryAfterMs: second !== undefined && Number(second) >= 0 ? Number(second) : undefined,
        };
  return { released: RELEASED[Number(released)] ?? 'not-held', next };
}
