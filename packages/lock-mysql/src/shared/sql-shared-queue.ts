import { LIVE, NOW_PLUS } from '../server-time.js';
import { PK } from './lease-kind.js';

/**
 * A refused request that will wait takes its place in the queue, or keeps it: a live entry keeps
 * its `seq` and gets a fresh waiter lease; a missing or expired one (its waiter stopped polling
 * for longer than its lease) goes to the back with the number the key's counter gave this
 * transaction. `seq` is assigned first, so it still sees the old expiry.
 *
 * Bind: name, family, owner, kind, seq, ttlµs, seq, ttlµs.
 */
export function enqueueSql(waiters: string): string {
  return `INSERT INTO ${waiters} (\`name\`, \`family\`, \`owner\`, \`kind\`, \`seq\`, \`expires_at\`)
VALUES (?, ?, ?, ?, ?, ${NOW_PLUS})
ON DUPLICATE KEY UPDATE \`seq\` = IF(${LIVE}, \`seq\`, ?), \`expires_at\` = ${NOW_PLUS}`;
}

/**
 * Removes one owner's queue entry of one kind: on its grant, and for `abandon` (the caller gave
 * up waiting). Bind: name, family, owner, kind.
 */
export function removeWaiterSql(waiters: string): string {
  return `DELETE FROM ${waiters} WHERE ${PK}`;
}
