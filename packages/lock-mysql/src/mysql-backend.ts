import type { LockBackend } from '@dlock/lock-core/spi';
import { heldBackend } from './held/held-backend.js';
import type { Primitive } from './held/primitive.js';
import { forUpdatePrimitive } from './held/primitive-for-update.js';
import { getLockPrimitive } from './held/primitive-get-lock.js';
import { type MysqlBackendOptions, resolveOptions } from './options.js';
import type { OwnedMysqlPool } from './pool-types.js';
import { rowBackend } from './row-backend.js';
import { mysqlLister, withList } from './sql-list.js';
import { SqlRunner } from './sql-runner.js';

/**
 * A MySQL/MariaDB lock backend for `createLockClient`. The pool stays the caller's; create the
 * table first with `ensureSchema()` or the README's DDL.
 *
 * ```ts
 * const pool = createPool({ host: '127.0.0.1', user: 'app', database: 'app' });
 * await ensureSchema(pool);
 * const locks = createLockClient(mysqlBackend({ pool, mode: 'row' }), { ttlMs: 30_000 });
 * ```
 */
export function mysqlBackend(options: MysqlBackendOptions): LockBackend {
  return createMysqlBackend(options, undefined);
}

/** @internal The one constructor; `owned` is a pool the backend created and must end on close. */
export function createMysqlBackend(
  options: MysqlBackendOptions,
  owned: OwnedMysqlPool | undefined,
): LockBackend {
  const o = resolveOptions(options);
  const sql = new SqlRunner(o.pool, o.acquireTimeoutMs, o.queryTimeoutMs, o.tableName);
  switch (o.mode) {
    case 'row':
      return withList(rowBackend(sql, o.table, owned), mysqlLister(sql, o.table, undefined));
    case 'get-lock':
      return held(getLockPrimitive(o.lockNamePrefix));
    case 'for-update':
      return held(forUpdatePrimitive(o.table));
  }
  function held(primitive: Primitive): LockBackend {
    return withList(
      heldBackend(sql, o.table, primitive, owned),
      mysqlLister(sql, o.table, primitive),
    );
  }
}
