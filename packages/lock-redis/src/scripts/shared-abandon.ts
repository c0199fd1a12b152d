import { SHARED_PRELUDE } from './shared-prelude.js';

/** The command the script runs under (see `defineScripts`). */
export const SHARED_ABANDON_COMMAND = 'dlockSharedAbandonV1';

/**
 * A waiter gave up: remove its queue entry (see `SHARED_PRELUDE` for KEYS and the first three
 * ARGV). ARGV[4] kind (`s`, `r`, `w`), ARGV[5] owner. Never touches a granted lease.
 *
 * Only the removal of the head can let someone new in (the next entry becomes the head), so only
 * that counts as a change for `announce`.
 *
 * Returns 1 when an entry was removed, 0 when there was none.
 */
export const SHARED_ABANDON_LUA = `${SHARED_PRELUDE}
local m = ARGV[4] .. ':' .. ARGV[5]
purge()
local rank = redis.call('ZRANK', queue, m)
if rank then
  redis.call('ZREM', queue, m)
  redis.call('ZREM', qexp, m)
  redis.call('HDEL', info, 'q:' .. m)
  if rank == 0 then changed = true end
end
finish(false)
return rank and 1 or 0
`;
