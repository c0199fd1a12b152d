import { sharedTableName } from '../shared/shared-tables.js';
import { quoteTable } from '../table-name.js';

/** The election table's suffix: `dlock_locks` → `dlock_locks_elections`. */
export const ELECTION_SUFFIX = '_elections';

/** The election table's name, quoted (cut and hashed like the shared-key tables when too long). */
export function electionTable(table: string): string {
  return quoteTable(sharedTableName(table, ELECTION_SUFFIX));
}

/**
 * One row per election name, its own namespace (an election "x" never meets lock "x"):
 *
 * - `owner`: the leader's secret owner token, NULL when nobody leads.
 * - `value`: the leader's proclaimed value (UTF-8, at most 4 KiB), NULL when nobody leads, so a
 *   reader can never take a resigned leader's value for a leader.
 * - `count`: the leader's hold count (a re-campaign by the leader adds one).
 * - `term`: the last term granted. The row is kept when the leader goes, so terms never go
 *   back; a lost row or a reset counter restarts at the server's time in µs, above earlier
 *   terms, as the lock table's fencing counter does.
 * - `expires_at`: end of the leader's lease, UTC, server clock.
 */
export function electionTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${electionTable(table)} (
  \`name\` VARBINARY(512) NOT NULL,
  \`owner\` VARBINARY(256) NULL,
  \`value\` VARBINARY(4096) NULL,
  \`count\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`term\` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  \`expires_at\` DATETIME(3) NOT NULL DEFAULT '1970-01-01 00:00:00.000',
  PRIMARY KEY (\`name\`)
) ENGINE=InnoDB`;
}
