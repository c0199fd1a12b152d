import { getLockName } from '../keys.js';
import { namedLockLiveness } from '../liveness.js';
import { type Primitive, query, waitSeconds } from './primitive.js';

/**
 * `get-lock` mode: a MySQL named lock (`GET_LOCK`), held by the connection that took it until
 * `RELEASE_LOCK` or the connection's end. Names are derived from keys by `getLockName`.
 */
export function getLockPrimitive(prefix: string): Primitive {
  return {
    autocommit: true,
    mode: 'get-lock',
    liveness: (key) => namedLockLiveness(getLockName(key, prefix)),

    async take(connection, key, waitMs) {
      // GET_LOCK's timeout is whole seconds on MySQL; 0 means "do not wait".
      const seconds = waitMs === 0 ? 0 : waitSeconds(waitMs);
      const rows = await query<{ got: number | null }[]>(
        connection,
        'SELECT GET_LOCK(?, ?) AS `got`',
        [getLockName(key, prefix), seconds],
      );
      const got = rows[0]?.got;
      if (got === null || got === undefined) {
        throw new Error('GET_LOCK returned NULL (the wait was killed or failed)');
      }
      return Number(got) === 1;
    },

    async give(connection, key) {
      const rows = await query<{ freed: number | null }[]>(
        connection,
        'SELECT RELEASE_LOCK(?) AS `freed`',
        [getLockName(key, prefix)],
      );
      if (Number(rows[0]?.freed) !== 1) {
        throw new Error('RELEASE_LOCK did not free the lock this connection should hold');
      }
    },
  };
}
