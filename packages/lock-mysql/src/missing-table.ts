/** MySQL's and MariaDB's "Table 'db.t' doesn't exist" (ER_NO_SUCH_TABLE). */
export function isMissingTable(error: unknown): boolean {
  const e = error as { errno?: unknown; code?: unknown } | null;
  return e?.errno === 1146 || e?.code === 'ER_NO_SUCH_TABLE';
}

/**
 * How to create the lock table `table`, three ways, with its name in each: the driver's own
 * message ("Table 'db.t' doesn't exist") says only what is missing.
 */
export function createTableHint(table: string): string {
  const named = table === 'dlock_locks' ? '' : `, { table: '${table}' }`;
  const query = table === 'dlock_locks' ? '' : `?table=${table}`;
  return (
    `Create the lock table once: await ensureSchema(pool${named}) from @dlock/lock-mysql, ` +
    `or run the DDL from schemaSql(${table === 'dlock_locks' ? '' : `'${table}'`}) (shown in the README) in your migrations, ` +
    `or npx @dlock/cli schema 'mysql://user@host/db${query}' --apply (without --apply it prints the DDL)`
  );
}
