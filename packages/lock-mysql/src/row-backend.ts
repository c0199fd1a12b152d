import { LockClosedError } from '@dlock/lock-core';
import {
  type AcquireRequest,
  type AcquireResult,
  type LockBackend,
  type LockState,
  type OwnerRef,
  type ReleaseResult,
  SPECIFICATION_VERSION,
} from '@dlock/lock-core/spi';
import { keyBytes, ownerBytes } from './keys.js';
import type { OwnedMysqlPool } from './pool-types.js';
import { micros } from './server-time.js';
import { acquireRowSql, acquireRowValues, decodeAcquireRow } from './sql-acquire-row.js';
import { extendRow, extendSql } from './sql-extend.js';
import { forceReleaseRowSql, purgeRowSql } from './sql-force-release.js';
import { decodeInspect, type InspectRow, inspectSql } from './sql-inspect.js';
import { decodeRelease, releaseSql } from './sql-release.js';
import { BACKEND_NAME, insertIdOf, type SqlRunner } from './sql-runner.js';

/**
 * `row` mode: the lock is a row with an owner and a server-clock expiry. Every operation is one
 * statement on whatever pool connection is free, so holding a lock pins no connection and a dead
 * holder's lock simply runs out.
 */
export function rowBackend(
  sql: SqlRunner,
  table: string,
  owned: OwnedMysqlPool | undefined,
): LockBackend {
  const statements = {
    acquire: acquireRowSql(table),
    extend: extendSql(table),
    release: releaseSql(table),
    inspect: inspectSql(table),
    forceRelease: forceReleaseRowSql(table),
    purge: purgeRowSql(table),
  };
  let closed: Promise<void> | undefined;
  /** Every operation refuses once `close()` was called (a pool passed in stays the user's). */
  const open = (): void => {
    if (closed) throw new LockClosedError('The mysql backend is closed');
  };

  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: BACKEND_NAME,
    capabilities: {
      watch: false,
      nativeWait: false,
      ttlGranularityMs: 1,
      batchExtend: false,
    },

    async tryAcquire({ key, owner, ttlMs }: AcquireRequest): Promise<AcquireResult> {
      open();
      const values = acquireRowValues(keyBytes(key), ownerBytes(owner), micros(ttlMs));
      return sql
        .write('acquire', statements.acquire, values, key)
        .then((written) => decodeAcquireRow(written, ttlMs));
    },

    async extend(request: AcquireRequest): Promise<boolean> {
      open();
      return extendRow(sql, 'extend', statements.extend, request);
    },

    async release({ key, owner }: OwnerRef): Promise<ReleaseResult> {
      open();
      const values = [keyBytes(key), ownerBytes(owner)];
      return decodeRelease(await sql.write('release', statements.release, values, key));
    },

    async inspect(key: string): Promise<LockState | null> {
      open();
      const rows = await sql.rows<InspectRow>('inspect', statements.inspect, [keyBytes(key)], key);
      return decodeInspect(key, rows);
    },

    async forceRelease(key: string): Promise<boolean> {
      open();
      const result = await sql.write('forceRelease', statements.forceRelease, [keyBytes(key)], key);
      return insertIdOf(result) > 0n;
    },

    async purge(key: string): Promise<boolean> {
      const result = await sql.write('purge', statements.purge, [keyBytes(key)], key);
      // Nothing deleted: no row, or a held one.
      return result.affectedRows > 0 || (await this.inspect(key)) === null;
    },

    close(): Promise<void> {
      closed ??= owned ? owned.end() : Promise.resolve();
      return closed;
    },
  };
}
