import type { MysqlPoolLike } from './pool-types.js';
import { SqlRunner } from './sql-runner.js';
import { quoteTable } from './table-name.js';

/**
 * The lock table's DDL, for migration tools (the README shows it for the default name).
 *
 * - `name`: the key's UTF-8 bytes. VARBINARY compares bytes, so keys are case- and
 *   accent-sensitive, and 513 bytes is far below InnoDB's 3072-byte index limit (a utf8mb4
 *   VARCHAR(512) would exceed it). 513 = 512-byte keys plus the 0xFF marker of `for-update`'s
 *   lock rows.
 * - `owner`: the holder's secret owner token (at most 256 bytes), NULL when free.
 * - `fencing`: the key's last fencing token. Rows are kept when a lock is freed; a key whose
 *   row is gone restarts at the server's time in microseconds, above its earlier tokens (see the
 *   README's fencing section). Tokens are about 1.8e15 today: store them in a 64-bit column.
 * - `expires_at`: end of the lease, UTC, server clock.
 * - `holder`: connection id holding the lock in `for-update` and `get-lock` modes.
 */
export function schemaSql(table = 'dlock_locks'): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (
  \`name\` VARBINARY(513) NOT NULL,
  \`owner\` VARBINARY(256) NULL,
  \`count\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`fencing\` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  \`expires_at\` DATETIME(3) NOT NULL DEFAULT '1970-01-01 00:00:00.000',
  \`holder\` BIGINT UNSIGNED NULL,
  PRIMARY KEY (\`name\`)
) ENGINE=InnoDB`;
}

export interface EnsureSchemaOptions {
  /**
   * The lock table's name.
   * @default 'dlock_locks'
   */
  table?: string;
}

/** Creates the lock table if it does not exist. Idempotent; never alters an existing table. */
export async function ensureSchema(
  pool: MysqlPoolLike,
  options: EnsureSchemaOptions = {},
): Promise<void> {
  const sql = schemaSql(options.table);
  await new SqlRunner(pool, 10_000, 30_000).run('ensureSchema', sql, []);
}
