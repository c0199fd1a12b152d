import type { ReleaseResult } from '@dlock/lock-core';

/** The command the script runs under (see `defineScripts`). */
export const RELEASE_COMMAND = 'dlockReleaseV2';

/**
 * Owner-checked release of one hold.
 *
 * KEYS[1] lock (a string holding the owner, or a hash {owner -> count}: see acquire.ts),
 * KEYS[2] fencing counter, KEYS[3] waiter flag.
 * ARGV[1] owner, ARGV[2] release channel, ARGV[3] '1' to publish with SPUBLISH (sharded pub/sub)
 * instead of PUBLISH when the server has it (Redis 7.0+, the first version with both SPUBLISH and
 * `redis.REDIS_VERSION_NUM`).
 *
 * The release message goes out only when the waiter flag is set (someone was refused since the
 * last release). Lock and flag go in one DEL: it deletes 2 keys exactly when the flag was there,
 * so an uncontended release is a GET and a DEL. The message is a digest of the released owner:
 * Redlock publishes one release on several nodes, and only on those whose flag was set, so its
 * watchers tell a copy from the next release by the message (redlock's release-coalescer.ts); a
 * digest rather than the owner, because the owner token is what lets its holder release. The fencing counter is left alone: every grant
 * and renewal already set its expiry to the lock's plus the retention, so it outlives the lock
 * by at least `fencingRetentionMs` either way.
 *
 * The channel goes in ARGV, not KEYS: an ioredis `keyPrefix` rewrites KEYS but not the channel
 * names the subscriber connection subscribes to, so a KEYS channel would silently never match.
 * It carries the same hash tag as the keys, so SPUBLISH stays within the script's slot.
 *
 * Returns 2 (released), 1 (decremented, still held) or 0 (not held: unchanged).
 */
export const RELEASE_LUA = `
local lock, wait = KEYS[1], KEYS[3]
local owner = ARGV[1]
local held = redis.pcall('GET', lock)
if held ~= owner then
  if type(held) ~= 'table' then return 0 end
  local count = tonumber(redis.call('HGET', lock, owner))
  if not count then return 0 end
  if count > 1 then
    redis.call('HINCRBY', lock, owner, -1)
    return 1
  end
end
if redis.call('DEL', lock, wait) == 2 then
  if ARGV[3] == '1' and redis.REDIS_VERSION_NUM then
    redis.call('SPUBLISH', ARGV[2], redis.sha1hex(owner))
  else
    redis.call('PUBLISH', ARGV[2], redis.sha1hex(owner))
  end
end
return 2
`;

const RELEASE_RESULTS: Record<number, ReleaseResult> = {
  0: 'not-held',
  1: 'decremented',
  2: 'released',
};

/** Decodes the script's reply. */
export function decodeReleaseReply(reply: unknown): ReleaseResult {
  return RELEASE_RESULTS[Number(reply)] ?? 'not-held';
}
