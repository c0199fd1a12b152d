import { LockArgumentError } from '@dlock/lock-core';
import { durationMs, rejectUnknownOptions } from '@dlock/lock-core/spi';
import {
  type BetterSqlite3DatabaseLike,
  isBetterSqlite3Database,
} from './better-sqlite3-connection.js';
import { type DatabaseSyncLike, isDatabaseSync } from './node-sqlite-connection.js';
import { isValidPrefix } from './schema.js';
import type { SqliteDriverName } from './sqlite-connection.js';

export interface SqliteBackendOptions {
  /**
   * Path of the database file, created with its folder if missing. Every process that opens the
   * same file shares its locks. `':memory:'` gives a private in-process database (tests only).
   * Mutually exclusive with `database`. A path you name is created with your umask and its
   * permissions are yours to set; the host-wide default is created so every local user can
   * lock through it.
   * @default defaultDatabasePath(): `DLOCK_SQLITE_PATH`, else `/var/tmp/dlock/locks.db` (one file
   * for every user on the host; per user, `%LOCALAPPDATA%\dlock\locks.db`, on Windows)
   */
  path?: string;
  /**
   * An open connection to use instead of opening `path`: a `node:sqlite` `DatabaseSync` or a
   * better-sqlite3 `Database`. It is left open by `close()`, and its pragmas are left as you set
   * them: use WAL mode and a busy timeout when several processes share the file.
   */
  database?: DatabaseSyncLike | BetterSqlite3DatabaseLike;
  /**
   * The SQLite driver for a file this backend opens: Node.js's built-in `node:sqlite` (22.13+
   * and 24; nothing to install or compile) or the better-sqlite3 package (an optional peer
   * dependency: `npm install better-sqlite3`; the only choice on Node.js 20). Processes on
   * different drivers share one file and its locks.
   * @default `DLOCK_SQLITE_DRIVER` if set, else `'node:sqlite'` where Node.js has it, else
   * `'better-sqlite3'`
   */
  driver?: SqliteDriverName;
  /**
   * Prefix of the tables (`<prefix>locks`, `<prefix>fencing`, for semaphores and read-write
   * locks `<prefix>shared_keys`, `<prefix>shared_leases`, `<prefix>shared_waiters`, and for
   * elections `<prefix>elections`, `<prefix>election_candidates`): letters, digits and `_`.
   * @default 'dlock_'
   */
  tablePrefix?: string;
  /**
   * How long one operation waits for another process's write transaction before failing with
   * `LockBackendError` (SQLite `busy_timeout`). Each transaction lasts microseconds, so this only
   * runs out when something else keeps the file locked.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * SQLite `synchronous` level for a file this backend opens. `'full'` syncs every commit, so the
   * fencing counter never goes back even after a power loss; `'normal'` is faster and still safe
   * against a process crash, but an OS crash or power loss may lose the last commits, and with
   * them the last grants' counter. Tokens still do not repeat then, since every fresh token is at
   * least the wall clock in µs, unless the clock after the reboot is behind the lost grants' time
   * (a machine that boots with a wrong clock and grants before it is corrected).
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
  /**
   * Wall clock in milliseconds since the Unix epoch, read inside each write transaction. It is
   * the only clock the processes on one host share, so expiry follows it: a clock step forward
   * expires locks early, a step back makes them last longer. (The fencing tokens' floor always
   * reads the system clock, in µs, not this one.)
   * @default Date.now
   */
  clock?: () => number;
}

export interface ResolvedOptions {
  readonly path: string | undefined;
  readonly database: DatabaseSyncLike | BetterSqlite3DatabaseLike | undefined;
  readonly driver: SqliteDriverName | undefined;
  readonly tablePrefix: string;
  readonly busyTimeoutMs: number;
  readonly synchronous: 'full' | 'normal';
  readonly clock: () => number;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'path',
  'database',
  'driver',
  'tablePrefix',
  'busyTimeoutMs',
  'synchronous',
  'clock',
]);
const DRIVERS: readonly unknown[] = ['node:sqlite', 'better-sqlite3'];

/** Checks every option before any file is touched, so bad input is a LockArgumentError. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new LockArgumentError('sqliteBackend() options must be an object');
  }
  const o = rejectUnknownOptions('sqliteBackend', options, KNOWN_OPTIONS);
  if (o.path !== undefined && o.database !== undefined) {
    throw new LockArgumentError('Pass either path or database to sqliteBackend, not both');
  }
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) {
    throw new LockArgumentError('sqliteBackend path must be a non-empty string');
  }
  if (o.database !== undefined && !looksLikeDatabase(o.database)) {
    throw new LockArgumentError(
      'sqliteBackend database must be an open node:sqlite DatabaseSync or better-sqlite3 Database',
    );
  }
  if (o.driver !== undefined && o.database !== undefined) {
    throw new LockArgumentError('Pass either driver or database to sqliteBackend, not both');
  }
  const envDriver =
    o.database === undefined ? process.env.DLOCK_SQLITE_DRIVER || undefined : undefined;
  const driver = o.driver ?? envDriver;
  if (driver !== undefined && !DRIVERS.includes(driver)) {
    throw new LockArgumentError(
      `sqliteBackend driver${o.driver === undefined ? ' (from DLOCK_SQLITE_DRIVER)' : ''} must be 'node:sqlite' or 'better-sqlite3', got ${JSON.stringify(driver)}`,
    );
  }
  const tablePrefix = o.tablePrefix ?? 'dlock_';
  if (typeof tablePrefix !== 'string' || !isValidPrefix(tablePrefix)) {
    throw new LockArgumentError(
      `sqliteBackend tablePrefix must be letters, digits and _ (not starting with a digit), got ${JSON.stringify(tablePrefix)}`,
    );
  }
  const busyTimeoutMs = durationMs('sqliteBackend: busyTimeoutMs', o.busyTimeoutMs ?? 5_000, {
    min: 0,
  });
  const synchronous = o.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw new LockArgumentError(`sqliteBackend synchronous must be 'full' or 'normal'`);
  }
  const clock = o.clock ?? Date.now;
  if (typeof clock !== 'function') {
    throw new LockArgumentError('sqliteBackend clock must be a function');
  }
  return {
    path: o.path as string | undefined,
    database: o.database as ResolvedOptions['database'],
    driver: driver as SqliteDriverName | undefined,
    tablePrefix,
    busyTimeoutMs,
    synchronous,
    clock: clock as () => number,
  };
}

function looksLikeDatabase(value: unknown): boolean {
  if (isDatabaseSync(value)) return true;
  return isBetterSqlite3Database(value) && value.open === true;
}
