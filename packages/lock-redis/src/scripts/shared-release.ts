import { SHARED_PRELUDE } from './shared-prelude.js';

/** The command the script runs under (see `defineScripts`). */
export const SHARED_RELEASE_COMMAND = 'dlockSharedReleaseV1';

/**
 * Owner-checked release of one hold of one kind (see `SHARED_PRELUDE` for KEYS and the first
 * three ARGV). ARGV[4] kind (`s`, `r`, `w`), ARGV[5] owner.
 *
 * Frees only this owner's lease of this kind (a downgraded owner's read stays when its write
 * goes). The release message goes out only when the queue's head now fits (see `announce`): an
 * uncontended release publishes nothing. A lease that expired was purged first, so releasing it
 * answers "not held" and never gives back permits twice.
 *
 * Returns 2 (released), 1 (decremented, still held) or 0 (not held: unchanged).
 */
export const SHARED_RELEASE_LUA = `${SHARED_PRELUDE}
local kind = ARGV[4]
local m = kind .. ':' .. ARGV[5]
purge()
local count = tonumber(redis.call('HGET', info, 'c:' .. m))
if not count then
  finish(false)
  return 0
end
if count > 1 then
  redis.call('HINCRBY', info, 'c:' .. m, -1)
  finish(false)
  return 1
end
-- The last lease and nobody queued: the whole state goes (and nobody is there to tell).
if redis.call('EXISTS', queue) == 0 and redis.call('ZCARD', leases) == 1 then
  redis.call('DEL', leases, info, qexp)
  return 2
end
if kind == 'w' then
  redis.call('HINCRBY', info, 'nw', -1)
else
  redis.call('HINCRBY', info, 'used', -(tonumber(redis.call('HGET', info, 'p:' .. m)) or 0))
end
redis.call('HDEL', info, 'c:' .. m, 'p:' .. m, 't:' .. m)
redis.call('ZREM', leases, m)
changed = true
finish(false)
return 2
`;
