import { SHARED_PRELUDE } from './shared-prelude.js';

/** The command the script runs under (see `defineScripts`). */
export const SHARED_EXTEND_COMMAND = 'dlockSharedExtendV1';

/**
 * Owner-checked renewal of one lease (see `SHARED_PRELUDE` for KEYS and the first three ARGV).
 * ARGV[4] kind (`s`, `r`, `w`), ARGV[5] owner, ARGV[6] ttl in ms.
 *
 * Sets only this lease's own deadline (its ZSET score) to `ttl` from the server's now: other
 * leases keep theirs, so one holder's renewals never keep a dead holder's lease alive. An
 * expired lease was purged first and is never re-created.
 *
 * Returns 1 when renewed, 0 when the owner does not hold that lease.
 */
export const SHARED_EXTEND_LUA = `${SHARED_PRELUDE}
local m = ARGV[4] .. ':' .. ARGV[5]
purge()
if not redis.call('ZSCORE', leases, m) then
  finish(false)
  return 0
end
redis.call('ZADD', leases, now + tonumber(ARGV[6]), m)
finish(true)
return 1
`;
