import { uniqueName } from '@dlock/test-utils';
import type { Pool } from 'mysql2/promise';
import { ensureSchema } from '../../src/index.js';
import { dropTables } from './mysql.js';

/**
 * A lock table and its three shared-key tables of this test run's own (helper "h_mysql" in the
 * name), created now by `ensureSchema`; `drop()` removes all four.
 */
export async function sharedTempTables(
  pool: Pool,
  label: string,
): Promise<{ name: string; drop(): Promise<void> }> {
  const name = uniqueName(`dlock_h_mysql_${label}_`);
  await ensureSchema(pool, { table: name });
  return {
    name,
    drop: () => dropTables(pool, name),
  };
}
