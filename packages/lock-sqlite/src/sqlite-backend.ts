import { resolve } from 'node:path';
import { LockBackendError, LockClosedError, LockError } from '@dlock/lock-core';
import {
  type AcquireRequest,
  type AcquireResult,
  type LockBackend,
  type LockState,
  type OwnerRef,
  type ReleaseResult,
  SPECIFICATION_VERSION,
} from '@dlock/lock-core/spi';
import { createAcquireMany, MAX_MANY_KEYS } from './acquire-many.js';
import { isBetterSqlite3Database, wrapBetterSqlite3 } from './better-sqlite3-connection.js';
import { defaultDatabasePath, SHARED_DEFAULT_PATH } from './default-path.js';
import { createElectionBackend } from './election/election-backend.js';
import { electionTablesFor } from './election/election-schema.js';
import { expiryFor, releaseHold, renewTransaction } from './hold-steps.js';
import { createLister } from './list.js';
import { wrapNodeSqlite } from './node-sqlite-connection.js';
import { chooseDriver, openDatabase } from './open-database.js';
import { resolveOptions, type SqliteBackendOptions } from './options.js';
import { createSchema, tablesFor } from './schema.js';
import { createSharedBackend } from './shared-backend.js';
import { prepareSharedFile } from './shared-file.js';
import { sharedTablesFor } from './shared-schema.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { wallMicros } from './wall-micros.js';

interface LockRow {
  owner: string;
  count: number;
  fencing_token: bigint;
  expires_at: number;
}

/**
 * A lock-core backend on a SQLite file: cross-process locks on one host, with nothing to install
 * or run. Every operation is one short `BEGIN IMMEDIATE` transaction, which SQLite serialises
 * across all processes on the file; expiry is decided by the wall clock read inside it.
 *
 * There is no release notification between processes, so waiters poll (the core's backoff with
 * jitter, bounded by the holder's remaining TTL). `shared` (semaphores and read-write locks) is
 * the same design on three more tables: see `shared-backend.ts`.
 *
 * ```ts
 * const locks = createLockClient(sqliteBackend({ path: './locks.db' }));
 * ```
 */
export function sqliteBackend(options: SqliteBackendOptions = {}): LockBackend {
  const o = resolveOptions(options);
  const owned = o.database === undefined;
  let db: SqliteConnection;
  try {
    if (o.database) {
      db = isBetterSqlite3Database(o.database)
        ? wrapBetterSqlite3(o.database)
        : wrapNodeSqlite(o.database);
    } else {
      const path = o.path ?? defaultDatabasePath();
      if (process.platform !== 'win32' && resolve(path) === SHARED_DEFAULT_PATH) {
        prepareSharedFile(SHARED_DEFAULT_PATH);
      }
      db = openDatabase(path, o.busyTimeoutMs, o.synchronous, chooseDriver(o.driver));
    }
  } catch (error) {
    throw new LockBackendError('sqlite', 'open', error);
  }
  try {
    return createSqliteBackend(db, owned, o.tablePrefix, o.clock);
  } catch (error) {
    if (owned) db.close();
    throw new LockBackendError('sqlite', 'open', error);
  }
}

/** The one constructor: a backend on an open database (`owned`: close it in `close()`). */
function createSqliteBackend(
  db: SqliteConnection,
  owned: boolean,
  prefix: string,
  clock: () => number,
): LockBackend {
  const tables = tablesFor(prefix);
  createSchema(db, tables);

  const select = db
    .prepare<[string], LockRow>(
      `SELECT owner, count, fencing_token, expires_at FROM ${tables.locks} WHERE key = ?`,
    )
    .safeIntegers(true);
  // One counter for the whole file, floored at the wall clock in µs: a counter lost to an OS
  // crash under `synchronous: 'normal'` (or a file restored from a backup, or a swap from another
  // backend) restarts above every earlier token unless the clock stepped back meanwhile.
  const nextToken = db
    .prepare<[bigint], { last_token: bigint }>(
      `UPDATE ${tables.fencing} SET last_token = MAX(last_token + 1, ?) WHERE id = 1 RETURNING last_token`,
    )
    .safeIntegers(true);
  const upsert = db.prepare(
    `INSERT OR REPLACE INTO ${tables.locks} (key, owner, count, fencing_token, expires_at) VALUES (?, ?, 1, ?, ?)`,
  );
  const reenter = db.prepare(
    `UPDATE ${tables.locks} SET count = count + 1, expires_at = ? WHERE key = ?`,
  );
  const renew = db.prepare<[number, string, string, number]>(
    `UPDATE ${tables.locks} SET expires_at = ? WHERE key = ? AND owner = ? AND expires_at > ?`,
  );
  const decrement = db.prepare(`UPDATE ${tables.locks} SET count = count - 1 WHERE key = ?`);
  const remove = db.prepare(`DELETE FROM ${tables.locks} WHERE key = ?`);
  const sweep = db.prepare(`DELETE FROM ${tables.locks} WHERE expires_at <= ?`);

  // safeIntegers(true) makes every integer column a bigint; only the token needs to be one.
  const read = (key: string): LockRow | undefined => {
    const row = select.get(key);
    if (!row) return undefined;
    return {
      owner: row.owner,
      count: Number(row.count),
      fencing_token: row.fencing_token,
      expires_at: Number(row.expires_at),
    };
  };

  // One acquire at `now`, inside the caller's transaction (tryAcquire's, or tryAcquireMany's).
  const acquireAt = ({ key, owner, ttlMs }: AcquireRequest, now: number): AcquireResult => {
    const row = read(key);
    if (row && row.expires_at > now) {
      if (row.owner !== owner) return { acquired: false, retryAfterMs: row.expires_at - now };
      const expiresAt = Math.max(row.expires_at, expiryFor(now, ttlMs));
      reenter.run(expiresAt, key);
      return {
        acquired: true,
        fencingToken: row.fencing_token,
        reentered: true,
        ttlMs: expiresAt - now - 1,
      };
    }
    const token = nextToken.get(wallMicros())!.last_token;
    upsert.run(key, owner, token, expiryFor(now, ttlMs));
    return { acquired: true, fencingToken: token, reentered: false, ttlMs };
  };
  const acquireTx = db.transaction((request: AcquireRequest) => acquireAt(request, clock()));
  const acquireManyTx = createAcquireMany(db, read, acquireAt, clock);

  const extendTx = renewTransaction(db, clock, renew);

  const releaseTx = db.transaction(({ key, owner }: OwnerRef): ReleaseResult => {
    const row = read(key);
    return releaseHold(
      row && row.expires_at > clock() ? row : undefined,
      owner,
      () => decrement.run(key),
      () => remove.run(key),
    );
  });

  const forceTx = db.transaction((key: string): boolean => {
    const row = read(key);
    if (!row) return false;
    remove.run(key);
    return row.expires_at > clock();
  });

  // Nothing of a released key is left (its row goes, the counter is the file's): only an expired
  // holder's row, which is deleted here.
  const purgeTx = db.transaction((key: string): boolean => {
    const row = read(key);
    if (!row) return true;
    if (row.expires_at > clock()) return false;
    remove.run(key);
    return true;
  });

  let closed = false;
  // Runs one synchronous step as a settled promise: the SPI's methods never throw synchronously.
  const run = <T>(operation: string, key: string | undefined, step: () => T): Promise<T> => {
    if (closed) return Promise.reject(new LockClosedError('The sqlite backend is closed'));
    try {
      return Promise.resolve(step());
    } catch (error) {
      // The shared keys' typed refusals (LockLimitError, LockUpgradeError) are not failures.
      if (LockError.isInstance(error)) return Promise.reject(error);
      return Promise.reject(new LockBackendError('sqlite', operation, error, key));
    }
  };

  const list = createLister(db, tables, clock);
  const shared = createSharedBackend(db, sharedTablesFor(prefix), tables.fencing, clock, run);
  const election = createElectionBackend(db, electionTablesFor(prefix), clock, run);

  // Rows of holders that died and were never taken over would otherwise stay forever.
  sweep.run(clock());

  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: 'sqlite',
    capabilities: {
      watch: false,
      nativeWait: false,
      ttlGranularityMs: 1,
      batchExtend: true,
      list: true,
      maxManyKeys: MAX_MANY_KEYS,
    },
    tryAcquire: (request) => run('tryAcquire', request.key, () => acquireTx.immediate(request)),
    tryAcquireMany: (requests) =>
      run('tryAcquireMany', requests[0]?.key, () => acquireManyTx.immediate(requests)),
    extend: (request) => run('extend', request.key, () => extendTx.immediate([request])[0]!),
    extendMany: (requests) => run('extendMany', undefined, () => extendTx.immediate(requests)),
    release: (request) => run('release', request.key, () => releaseTx.immediate(request)),
    inspect: (key) =>
      run('inspect', key, (): LockState | null => {
        const row = read(key);
        const now = clock();
        if (!row || row.expires_at <= now) return null;
        return {
          key,
          owner: row.owner,
          count: row.count,
          ttlMs: row.expires_at - now,
          fencingToken: row.fencing_token,
        };
      }),
    forceRelease: (key) => run('forceRelease', key, () => forceTx.immediate(key)),
    list: (request) => run('list', undefined, () => list(request)),
    purge: (key) => run('purge', key, () => purgeTx.immediate(key)),
    shared,
    election,
    async close() {
      if (closed) return;
      closed = true;
      if (owned) db.close();
    },
  };
}
