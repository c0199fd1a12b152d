import { LockArgumentError } from '@dlock/lock-core';
import { durationMs, rejectUnknownOptions } from '@dlock/lock-core/spi';
import type { Database } from 'better-sqlite3';
import { isValidPrefix } from './schema.js';

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
   * An open better-sqlite3 connection to use instead of opening `path`. It is left open by
   * `close()`, and its pragmas are left as you set them: use WAL mode and a busy timeout when
   * several processes share the file.
   */
  database?: Database;
  /**
   * Prefix of the two tables (`<prefix>locks`, `<prefix>fencing`): letters, digits and `_`.
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
  readonly database: Database | undefined;
  readonly tablePrefix: string;
  readonly busyTimeoutMs: number;
  readonly synchronous: 'full' | 'normal';
  readonly clock: () => number;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'path',
  'database',
  'tablePrefix',
  'busyTimeoutMs',
  'synchronous',
  'clock',
]);

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
    throw new LockArgumentError('sqliteBackend database must be an open better-sqlite3 Database');
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
    database: o.database as Database | undefined,
    tablePrefix,
    busyTimeoutMs,
    synchronous,
    clock: clock as () => number,
  };
}

function looksLikeDatabase(value: unknown): boolean {
  const db = value as { prepare?: unknown; open?: unknown };
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof db.prepare === 'function' &&
    db.open === true
  );
}
