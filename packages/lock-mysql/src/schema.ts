import { LockArgumentError } from '@dlock/lock-core';
import { reported } from '@dlock/lock-core/spi';
import { poolFromUrl } from './connect-backend.js';
import { electionTableSql } from './election/election-table.js';
import type { MysqlPoolLike } from './pool-types.js';
import { sharedTables } from './shared/shared-tables.js';
import { SqlRunner } from './sql-runner.js';
import { quoteTable } from './table-name.js';

/**
 * The DDL of every table (`;`-separated statements, see `schemaStatements`), for migration
 * tools. The lock table's columns (the README shows it for the default name).
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
  return schemaStatements(table).join(';\n\n');
}

/**
 * The DDL as separate statements (a pool without `multipleStatements` runs one at a time): the
 * lock table, then the three tables of semaphores and read-write locks, named after it with the
 * suffixes `_shared`, `_leases` and `_waiters`:
 *
 * - `_shared`: one row per key and family (`semaphore`, `read-write`: two namespaces): the
 *   stored semaphore `limit` and the `fencing` counter, which also numbers the waiter queue.
 *   Rows are kept; a lost row restarts at the server's time in µs, as the lock table's.
 * - `_leases`: one row per lease: `owner`, `kind` (`semaphore`, `read`, `write`), `permits`,
 *   hold `count`, its fencing `token`, its own `expires_at` (UTC, server clock), and `renewal`,
 *   a random stamp by which one batched renewal tells which leases it renewed.
 * - `_waiters`: the waiter queue: one entry per waiting owner and kind, in `seq` order, with a
 *   waiter lease `expires_at`.
 *
 * and the election table, suffix `_elections` (see `electionTableSql`): one row per election
 * name with the leader's owner, value, term and lease.
 */
export function schemaStatements(table = 'dlock_locks'): string[] {
  const shared = sharedTables(table);
  return [lockTableSql(table), ...sharedSchemaSql(shared), electionTableSql(table)];
}

function sharedSchemaSql(shared: ReturnType<typeof sharedTables>): string[] {
  const key = `\`name\` VARBINARY(512) NOT NULL,
  \`family\` ENUM('semaphore', 'read-write') NOT NULL,`;
  const owner = `\`owner\` VARBINARY(256) NOT NULL,
  \`kind\` ENUM('semaphore', 'read', 'write') NOT NULL,`;
  return [
    `CREATE TABLE IF NOT EXISTS ${shared.keys} (
  ${key}
  \`limit\` BIGINT UNSIGNED NULL,
  \`fencing\` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (\`name\`, \`family\`)
) ENGINE=InnoDB`,
    `CREATE TABLE IF NOT EXISTS ${shared.leases} (
  ${key}
  ${owner}
  \`permits\` BIGINT UNSIGNED NOT NULL,
  \`count\` INT UNSIGNED NOT NULL,
  \`token\` BIGINT UNSIGNED NOT NULL,
  \`expires_at\` DATETIME(3) NOT NULL,
  \`renewal\` VARBINARY(16) NULL,
  PRIMARY KEY (\`name\`, \`family\`, \`owner\`, \`kind\`)
) ENGINE=InnoDB`,
    `CREATE TABLE IF NOT EXISTS ${shared.waiters} (
  ${key}
  ${owner}
  \`seq\` BIGINT UNSIGNED NOT NULL,
  \`expires_at\` DATETIME(3) NOT NULL,
  PRIMARY KEY (\`name\`, \`family\`, \`owner\`, \`kind\`)
) ENGINE=InnoDB`,
  ];
}

function lockTableSql(table: string): string {
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

/**
 * Creates the lock table and the tables of semaphores and read-write locks (see
 * `schemaStatements`), each if it does not exist. Idempotent; never alters an existing table.
 *
 * Takes your pool, or a `mysql://` URL as `connect()` takes it (its `?table=` names the table,
 * TLS parameters and `options` as there), for which it opens a pool of its own and ends it.
 * Needs the CREATE privilege, which the lock user otherwise does not (see the README's Security
 * section): run it once, at deploy time, as a user that has it.
 */
export async function ensureSchema(
  pool: MysqlPoolLike | URL | string,
  options: EnsureSchemaOptions = {},
): Promise<void> {
  if (typeof pool === 'string' || pool instanceof URL) {
    let url: URL;
    try {
      url = new URL(pool);
    } catch {
      throw new LockArgumentError(
        `ensureSchema needs a pool or a mysql:// URL, got ${JSON.stringify(String(pool))}`,
      );
    }
    const { pool: own, settings } = await poolFromUrl(url);
    try {
      await ensureSchema(own, { table: options.table ?? settings.table ?? 'dlock_locks' });
    } finally {
      await own.end().catch(reported('mysql ensureSchema: end its pool'));
    }
    return;
  }
  const table = options.table ?? 'dlock_locks';
  const runner = new SqlRunner(pool, 10_000, 30_000, table);
  for (const statement of schemaStatements(table)) {
    await runner.run('ensureSchema', statement, []);
  }
}
