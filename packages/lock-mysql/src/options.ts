import { LockArgumentError } from '@dlock/lock-core';
import { durationMs, rejectUnknownOptions } from '@dlock/lock-core/spi';
import { MAX_LOCK_NAME_PREFIX } from './keys.js';
import type { MysqlPoolLike } from './pool-types.js';
import { quoteTable } from './table-name.js';

/** How the lock is held on the server. See the README for each mode's guarantees. */
export type MysqlLockMode = 'row' | 'for-update' | 'get-lock';

export interface MysqlBackendOptions {
  /**
   * A mysql2/promise pool (`createPool()` from `mysql2/promise`). It stays yours: `close()` never
   * ends it. In `for-update` and `get-lock` modes every held lock and every waiting acquire
   * occupies one of its connections, so size `connectionLimit` for that.
   */
  pool: MysqlPoolLike;
  /**
   * - `row`: a lease row per key with a server-clock expiry; no connection is pinned.
   * - `for-update`: a transaction holding `SELECT … FOR UPDATE` on the key's row, on a dedicated
   *   connection.
   * - `get-lock`: MySQL named locks (`GET_LOCK`) on a dedicated connection.
   * @default 'row'
   */
  mode?: MysqlLockMode;
  /**
   * The lock table (create it with `ensureSchema()` or the README's DDL). An identifier,
   * optionally `database.table`; one table serves one mode.
   * @default 'dlock_locks'
   */
  table?: string;
  /**
   * How long to wait for a free pool connection before failing with `LockBackendError` (mysql2
   * pools would otherwise queue forever when exhausted).
   * @default 10000
   */
  acquireTimeoutMs?: number;
  /**
   * Upper bound for a statement that never waits for a lock (everything but the server-side wait
   * of `for-update` and `get-lock`); a server that stops answering fails with `LockBackendError`.
   * @default 10000
   */
  queryTimeoutMs?: number;
  /**
   * `get-lock` mode: prefix of the server-side lock names, so they do not clash with other users
   * of `GET_LOCK` on the server. Lower-case letters, digits and `_ . : / -`, at most 15 characters.
   * @default 'dlock:'
   */
  lockNamePrefix?: string;
}

export interface ResolvedOptions {
  readonly pool: MysqlPoolLike;
  readonly mode: MysqlLockMode;
  /** The quoted table identifier, safe to splice. */
  readonly table: string;
  /** The table's name as given, for messages. */
  readonly tableName: string;
  readonly acquireTimeoutMs: number;
  readonly queryTimeoutMs: number;
  readonly lockNamePrefix: string;
}

const KNOWN_OPTIONS: ReadonlySet<keyof MysqlBackendOptions> = new Set([
  'pool',
  'mode',
  'table',
  'acquireTimeoutMs',
  'queryTimeoutMs',
  'lockNamePrefix',
]);
const MODES: readonly MysqlLockMode[] = ['row', 'for-update', 'get-lock'];

export function resolveOptions(options: MysqlBackendOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new LockArgumentError('mysqlBackend needs an options object with a pool');
  }
  rejectUnknownOptions('mysqlBackend', options, KNOWN_OPTIONS);
  const { pool, mode = 'row', table = 'dlock_locks' } = options;
  if (typeof pool !== 'object' || pool === null || typeof pool.getConnection !== 'function') {
    throw new LockArgumentError(
      'mysqlBackend needs `pool`: a mysql2/promise pool (createPool from "mysql2/promise")',
    );
  }
  if (typeof (pool as { promise?: unknown }).promise === 'function') {
    // mysql2's callback pool: its getConnection() wants a callback and returns nothing.
    throw new LockArgumentError(
      'mysqlBackend needs the promise API of mysql2: pass pool.promise(), or a pool created with createPool from "mysql2/promise"',
    );
  }
  if (!MODES.includes(mode)) {
    throw new LockArgumentError(`mode must be one of ${MODES.join(', ')}, got ${String(mode)}`);
  }
  const prefix = options.lockNamePrefix ?? 'dlock:';
  if (
    typeof prefix !== 'string' ||
    prefix.length > MAX_LOCK_NAME_PREFIX ||
    !/^[a-z0-9_.:/-]*$/.test(prefix)
  ) {
    throw new LockArgumentError(
      `lockNamePrefix must be at most ${MAX_LOCK_NAME_PREFIX} of a-z 0-9 _ . : / -, got ${JSON.stringify(prefix)}`,
    );
  }
  return {
    pool,
    mode,
    table: quoteTable(table),
    tableName: table,
    acquireTimeoutMs: durationMs(
      'mysqlBackend: acquireTimeoutMs',
      options.acquireTimeoutMs ?? 10_000,
    ),
    queryTimeoutMs: durationMs('mysqlBackend: queryTimeoutMs', options.queryTimeoutMs ?? 10_000),
    lockNamePrefix: prefix,
  };
}
