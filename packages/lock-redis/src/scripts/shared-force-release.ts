import { SHARED_PRELUDE } from './shared-prelude.js';

/** The command the script runs under (see `defineScripts`). */
export const SHARED_FORCE_RELEASE_COMMAND = 'dlockSharedForceReleaseV1';

/**
 * Operator escape hatch: delete every lease and queue entry of the key, keeping the fencing
 * counter (its retention still applies), and announce it always (it is rare, and waiters that
 * lost their queue entry re-queue on their next attempt). See `SHARED_PRELUDE` for KEYS and ARGV.
 *
 * Returns 1 when a live lease or queue entry was there, 0 otherwise.
 */
export const SHARED_FORCE_RELEASE_LUA = `${SHARED_PRELUDE}
local live = redis.call('ZCOUNT', leases, '(' .. now, '+inf') + redis.call('ZCOUNT', qexp, '(' .. now, '+inf')
redis.call('DEL', leases, info, queue, qexp)
if sharded == '1' and redis.REDIS_VERSION_NUM then
  redis.call('SPUBLISH', channel, 'released')
else
  redis.call('PUBLISH', channel, 'released')
end
if live > 0 then return 1 end
return 0
`;
