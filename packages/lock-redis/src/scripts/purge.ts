/**
 * Delete what a free key left behind: its fencing counter and waiter flag. Nothing while the lock
 * exists (an expired lock is gone: Redis removes it on access). Safe for later tokens: a fresh
 * grant is floored at the server's time (see the acquire script).
 *
 * KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiter flag. Returns 1 when the key is free and
 * nothing of it is left, 0 when it is held.
 */
/** The command the script runs under (see `defineScripts`). */
export const PURGE_COMMAND = 'dlockPurgeV1';

export const PURGE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
`;
