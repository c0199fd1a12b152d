import { isLockWaitRefusal } from '../driver-errors.js';
import { mutexRowName } from '../keys.js';
import { connectionLiveness } from '../liveness.js';
import type { MysqlPoolConnection } from '../pool-types.js';
import { type Primitive, query, waitSeconds } from './primitive.js';

/**
 * `for-update` mode: an open transaction holding `SELECT … FOR UPDATE` on the key's lock row
 * (0xFF + key bytes, created on first use). COMMIT releases it; so does the connection's end,
 * because InnoDB rolls the transaction back.
 *
 * Waits use InnoDB's own lock wait, bounded per session with `innodb_lock_wait_timeout` (whole
 * seconds) and restored to the server default before the connection goes back to the pool. A
 * no-wait attempt uses `NOWAIT` (MySQL 8.0.1+, MariaDB 10.3+).
 */
export function forUpdatePrimitive(table: string): Primitive {
  const lockRow = `SELECT 1 AS \`one\` FROM ${table} WHERE \`name\` = ? FOR UPDATE`;
  const lockRowNoWait = `${lockRow} NOWAIT`;
  const createRow = `INSERT IGNORE INTO ${table} (\`name\`) VALUES (?)`;
  /** Connections whose session lock wait timeout we changed (restored on give). */
  const tuned = new WeakSet<MysqlPoolConnection>();

  const restore = async (connection: MysqlPoolConnection): Promise<void> => {
    if (!tuned.has(connection)) return;
    await query(connection, 'SET SESSION innodb_lock_wait_timeout = DEFAULT');
    tuned.delete(connection);
  };

  return {
    autocommit: false,
    mode: 'for-update',
    liveness: () => connectionLiveness,

    async take(connection, key, waitMs) {
      const row = mutexRowName(key);
      if (waitMs > 0) {
        await query(connection, 'SET SESSION innodb_lock_wait_timeout = ?', [waitSeconds(waitMs)]);
        tuned.add(connection);
      }
      for (let created = false; ; created = true) {
        await query(connection, 'START TRANSACTION');
        let rows: unknown[];
        try {
          rows = await query<unknown[]>(connection, waitMs > 0 ? lockRow : lockRowNoWait, [row]);
        } catch (error) {
          if (!isLockWaitRefusal(error)) throw error;
          await query(connection, 'ROLLBACK');
          await restore(connection);
          return false;
        }
        if (rows.length > 0) return true;
        // No lock row yet: end the transaction (its gap lock would block the insert of others),
        // create the row outside any transaction and lock it.
        await query(connection, 'ROLLBACK');
        if (created) throw new Error('the lock row disappeared while being created');
        await query(connection, createRow, [row]);
      }
    },

    async give(connection) {
      await query(connection, 'COMMIT');
      await restore(connection);
    },
  };
}
