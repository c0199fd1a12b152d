import { NOW_EPOCH_US } from '../server-time.js';
import { KEY } from './lease-kind.js';

/**
 * The first statement of every acquire: inserts the key row if missing, and in any case locks
 * it (an `ON DUPLICATE KEY UPDATE` holds the row's exclusive lock until COMMIT), so concurrent
 * acquirers of one key run one after the other, and bumps its counter, whose new value comes
 * back in the OK packet (`LAST_INSERT_ID(expr)`): it is this request's fencing token if it is
 * granted, and its queue number if it waits. Every attempt takes a value (tokens may skip
 * numbers, never repeat or go back); `GREATEST(…, server time in µs)` floors it as the lock
 * table's counter is floored, so a lost row restarts above every earlier token.
 *
 * Bind: name, family.
 */
export function lockKeySql(keys: string): string {
  return `INSERT INTO ${keys} (\`name\`, \`family\`, \`limit\`, \`fencing\`)
VALUES (?, ?, NULL, LAST_INSERT_ID(${NOW_EPOCH_US}))
ON DUPLICATE KEY UPDATE \`fencing\` = LAST_INSERT_ID(GREATEST(\`fencing\` + 1, ${NOW_EPOCH_US}))`;
}

/** Stores a semaphore's limit (the key is free, or the caller changes it on purpose). Bind: limit, name, family. */
export function setLimitSql(keys: string): string {
  return `UPDATE ${keys} SET \`limit\` = ? WHERE ${KEY}`;
}
