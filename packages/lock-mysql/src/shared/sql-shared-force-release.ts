import { LIVE } from '../server-time.js';
import { KEY } from './lease-kind.js';
import type { SharedTables } from './shared-tables.js';

/**
 * `forceRelease` of a shared key, in a transaction that holds the key row's lock (so no grant
 * of the key runs beside it): how many live leases and queue entries there are, then delete
 * every lease and entry of the key. The key row and its fencing counter stay.
 */
export function forceReleaseStatements(tables: SharedTables) {
  return {
    /** Bind: name, family. */
    lock: `SELECT \`fencing\` FROM ${tables.keys} WHERE ${KEY} FOR UPDATE`,
    /** Bind: name, family, name, family. */
    live: `SELECT (SELECT COUNT(*) FROM ${tables.leases} WHERE ${KEY} AND ${LIVE})
  + (SELECT COUNT(*) FROM ${tables.waiters} WHERE ${KEY} AND ${LIVE}) AS \`live\``,
    /** Bind: name, family. */
    leases: `DELETE FROM ${tables.leases} WHERE ${KEY}`,
    /** Bind: name, family. */
    waiters: `DELETE FROM ${tables.waiters} WHERE ${KEY}`,
  };
}
