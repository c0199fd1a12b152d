import { LockClosedError } from '@dlock/lock-core';
import type { LockBackend } from '@dlock/lock-core/spi';
import { acquireMany, MAX_MANY_KEYS } from './acquire-many.js';
import { electionBackend } from './election/election-backend.js';
import { electionTable } from './election/election-table.js';
import { heldBackend } from './held/held-backend.js';
import type { Primitive } from './held/primitive.js';
import { forUpdatePrimitive } from './held/primitive-for-update.js';
import { getLockPrimitive } from './held/primitive-get-lock.js';
import { type MysqlBackendOptions, resolveOptions } from './options.js';
import type { OwnedMysqlPool } from './pool-types.js';
import { rowBackend } from './row-backend.js';
import { sharedBackend } from './shared/shared-backend.js';
import { sharedTables } from './shared/shared-tables.js';
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
  const tables = sharedTables(o.tableName);
  let closed = false;
  switch (o.mode) {
    case 'row':
      return withShared(
        withMany(withList(rowBackend(sql, o.table, owned), mysqlLister(sql, o.table, undefined))),
      );
    case 'get-lock':
      return held(getLockPrimitive(o.lockNamePrefix));
    case 'for-update':
      return held(forUpdatePrimitive(o.table));
  }
  function held(primitive: Primitive): LockBackend {
    return withShared(
      withList(heldBackend(sql, o.table, primitive, owned), mysqlLister(sql, o.table, primitive)),
    );
  }
  /**
   * `row` mode only: several keys in one transaction (see `acquireMany`). The connection-bound
   * modes have none: taking each key's server lock with a zero wait and giving the taken ones
   * back on a refusal is "taken and given back", which the SPI forbids, so the core takes their
   * keys one by one.
   */
  function withMany(backend: LockBackend): LockBackend {
    return {
      ...backend,
      capabilities: { ...backend.capabilities, maxManyKeys: MAX_MANY_KEYS },
      async tryAcquireMany(requests) {
        // As the backend's own operations: refuse once closed, before any I/O.
        if (closed) throw new LockClosedError('The mysql backend is closed');
        return acquireMany(sql, o.table, requests);
      },
    };
  }
  /**
   * Semaphores and read-write locks, and elections, are rows on the server clock in every mode
   * (see `sharedBackend`, `electionBackend`); they close with the mutex backend.
   */
  function withShared(backend: LockBackend): LockBackend {
    return {
      ...backend,
      shared: sharedBackend(sql, tables, () => closed),
      election: electionBackend(sql, electionTable(o.tableName), () => closed),
      close() {
        closed = true;
        return backend.close();
      },
    };
  }
}
