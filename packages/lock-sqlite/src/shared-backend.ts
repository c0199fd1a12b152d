import type {
  AcquireResult,
  ExtendResult,
  LeaseAcquireRequest,
  LeaseKind,
  LeaseRef,
  LeaseState,
  ReleaseResult,
  SharedBackend,
  SharedState,
} from '@dlock/lock-core/spi';
import { LockLimitError, LockUpgradeError } from '@dlock/lock-core/spi';
import { createSharedSchema, type SharedTables } from './shared-schema.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { waiterLease } from './waiter-lease.js';
import { wallMicros } from './wall-micros.js';

type Family = 'semaphore' | 'read-write';

interface LeaseRow {
  seq: number;
  owner: string;
  kind: LeaseKind;
  permits: number;
  count: number;
  expires_at: number;
  fencing_token: bigint;
}

interface WaiterRow {
  seq: number;
  owner: string;
  kind: LeaseKind;
  expires_at: number;
}

interface KeyRow {
  limit: number | null;
  fencing_token: bigint;
}

interface RawLeaseRow extends Omit<LeaseRow, 'seq' | 'permits' | 'count' | 'expires_at'> {
  seq: bigint;
  permits: bigint;
  count: bigint;
  expires_at: bigint;
}

/** Runs one synchronous step as a settled promise (the backend's `run`, shared with the mutex). */
export type Runner = <T>(operation: string, key: string | undefined, step: () => T) => Promise<T>;

const familyOf = (kind: LeaseKind): Family => (kind === 'semaphore' ? 'semaphore' : 'read-write');

/**
 * Semaphores and read-write locks on the SQLite file (the SPI's {@link SharedBackend}). Every
 * operation is one `BEGIN IMMEDIATE` transaction, which SQLite serialises across every process on
 * the file: it deletes the key's expired leases and queue entries, reads what is left, decides,
 * and writes. Expiry is the same wall clock the mutex reads inside its transactions (the only
 * clock the processes of one host share). Tokens come from the file's one fencing counter, the
 * mutex's, floored at the wall clock in µs.
 *
 * There is no wake-up between processes (as for the mutex): waiters poll, and a queued refusal's
 * `retryAfterMs` is at most a third of the waiter's lease so that polling keeps its queue entry.
 */
export function createSharedBackend(
  db: SqliteConnection,
  tables: SharedTables,
  fencingTable: string,
  clock: () => number,
  run: Runner,
): SharedBackend {
  createSharedSchema(db, tables);
  const { keys, leases, waiters } = tables;

  const nextToken = db
    .prepare<[bigint], { last_token: bigint }>(
      `UPDATE ${fencingTable} SET last_token = MAX(last_token + 1, ?) WHERE id = 1 RETURNING last_token`,
    )
    .safeIntegers(true);

  // Purge: what expired stops counting before anything is read.
  const purgeLeases = db.prepare<[string, Family, number]>(
    `DELETE FROM ${leases} WHERE name = ? AND family = ? AND expires_at <= ?`,
  );
  const purgeWaiters = db.prepare<[string, Family, number]>(
    `DELETE FROM ${waiters} WHERE name = ? AND family = ? AND expires_at <= ?`,
  );
  // A key nobody holds or waits for keeps no limit (the next caller's is taken).
  const dropIfIdle = db.prepare<[string, Family, string, Family, string, Family]>(
    `DELETE FROM ${keys} WHERE name = ? AND family = ?
       AND NOT EXISTS (SELECT 1 FROM ${leases} WHERE name = ? AND family = ?)
       AND NOT EXISTS (SELECT 1 FROM ${waiters} WHERE name = ? AND family = ?)`,
  );

  // Reads.
  const selectLeases = db
    .prepare<[string, Family], RawLeaseRow>(
      `SELECT seq, owner, kind, permits, count, expires_at, fencing_token FROM ${leases}
       WHERE name = ? AND family = ? ORDER BY seq`,
    )
    .safeIntegers(true);
  const selectWaiters = db
    .prepare<[string, Family], { seq: bigint; owner: string; kind: LeaseKind; expires_at: bigint }>(
      `SELECT seq, owner, kind, expires_at FROM ${waiters} WHERE name = ? AND family = ? ORDER BY seq`,
    )
    .safeIntegers(true);
  const selectKey = db
    .prepare<[string, Family], { permit_limit: bigint | null; fencing_token: bigint }>(
      `SELECT permit_limit, fencing_token FROM ${keys} WHERE name = ? AND family = ?`,
    )
    .safeIntegers(true);

  // Writes of tryAcquire.
  const insertKey = db.prepare<[string, Family, number | null, bigint]>(
    `INSERT INTO ${keys} (name, family, permit_limit, fencing_token) VALUES (?, ?, ?, ?)`,
  );
  const setLimit = db.prepare<[number, string, Family]>(
    `UPDATE ${keys} SET permit_limit = ? WHERE name = ? AND family = ?`,
  );
  const setKeyToken = db.prepare<[bigint, string, Family]>(
    `UPDATE ${keys} SET fencing_token = ? WHERE name = ? AND family = ?`,
  );
  const insertLease = db.prepare<[string, Family, string, LeaseKind, number, number, bigint]>(
    `INSERT INTO ${leases} (name, family, owner, kind, permits, count, expires_at, fencing_token)
     VALUES (?, ?, ?, ?, ?, 1, ?, ?)`,
  );
  const reenterLease = db.prepare<[number, number]>(
    `UPDATE ${leases} SET count = count + 1, expires_at = ? WHERE seq = ?`,
  );
  const upsertWaiter = db.prepare<[string, Family, string, LeaseKind, number]>(
    `INSERT INTO ${waiters} (name, family, owner, kind, expires_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (name, family, owner, kind) DO UPDATE SET expires_at = excluded.expires_at`,
  );
  const deleteWaiter = db.prepare<[string, Family, string, LeaseKind]>(
    `DELETE FROM ${waiters} WHERE name = ? AND family = ? AND owner = ? AND kind = ?`,
  );

  // Writes of extend and release.
  const renewLease = db.prepare<[number, string, Family, string, LeaseKind, number]>(
    `UPDATE ${leases} SET expires_at = ?
     WHERE name = ? AND family = ? AND owner = ? AND kind = ? AND expires_at > ?`,
  );
  const decrementLease = db.prepare<[number]>(
    `UPDATE ${leases} SET count = count - 1 WHERE seq = ?`,
  );
  const deleteLease = db.prepare<[number]>(`DELETE FROM ${leases} WHERE seq = ?`);

  // Writes of forceRelease and the sweep at open.
  const deleteKeyLeases = db.prepare<[string, Family]>(
    `DELETE FROM ${leases} WHERE name = ? AND family = ?`,
  );
  const deleteKeyWaiters = db.prepare<[string, Family]>(
    `DELETE FROM ${waiters} WHERE name = ? AND family = ?`,
  );
  const deleteKey = db.prepare<[string, Family]>(
    `DELETE FROM ${keys} WHERE name = ? AND family = ?`,
  );

  const readLeases = (key: string, family: Family): LeaseRow[] =>
    selectLeases.all(key, family).map((row) => ({
      seq: Number(row.seq),
      owner: row.owner,
      kind: row.kind,
      permits: Number(row.permits),
      count: Number(row.count),
      expires_at: Number(row.expires_at),
      fencing_token: row.fencing_token,
    }));
  const readWaiters = (key: string, family: Family): WaiterRow[] =>
    selectWaiters.all(key, family).map((row) => ({
      seq: Number(row.seq),
      owner: row.owner,
      kind: row.kind,
      expires_at: Number(row.expires_at),
    }));
  const readKey = (key: string, family: Family): KeyRow | undefined => {
    const row = selectKey.get(key, family);
    if (!row) return undefined;
    return {
      limit: row.permit_limit === null ? null : Number(row.permit_limit),
      fencing_token: row.fencing_token,
    };
  };
  const purge = (key: string, family: Family, now: number): void => {
    purgeLeases.run(key, family, now);
    purgeWaiters.run(key, family, now);
  };
  const dropKeyIfIdle = (key: string, family: Family): void => {
    dropIfIdle.run(key, family, key, family, key, family);
  };
  const freshToken = (): bigint => nextToken.get(wallMicros())!.last_token;
  // As the mutex: the clock counts whole milliseconds, so a lease is stored 1 ms longer than its
  // TTL and never ends on the server before the holder's own estimate.
  const expiryFor = (now: number, ttlMs: number): number => now + ttlMs + 1;

  const tryAcquireTx = db.transaction((r: LeaseAcquireRequest): AcquireResult => {
    const family = familyOf(r.kind);
    const now = clock();
    purge(r.key, family, now);
    const held = readLeases(r.key, family);
    const queued = readWaiters(r.key, family);
    let keyRow = readKey(r.key, family);
    if (keyRow && held.length === 0 && queued.length === 0) {
      // Left by a holder and waiters that all expired: it binds nobody any more.
      deleteKey.run(r.key, family);
      keyRow = undefined;
    }

    let limit = Number.POSITIVE_INFINITY;
    if (r.kind === 'semaphore') {
      const stored = keyRow?.limit ?? null;
      if (keyRow && stored !== r.limit) {
        if (!r.changeLimit) throw new LockLimitError(r.key, stored ?? 0, r.limit);
        setLimit.run(r.limit, r.key, family);
      }
      limit = r.limit;
    }

    const mine = held.find((lease) => lease.owner === r.owner && lease.kind === r.kind);
    if (mine) {
      // Re-entry: granted even when the key is full or others wait; the expiry never shrinks.
      const expiresAt = Math.max(mine.expires_at, expiryFor(now, r.ttlMs));
      reenterLease.run(expiresAt, mine.seq);
      deleteWaiter.run(r.key, family, r.owner, r.kind);
      return {
        acquired: true,
        fencingToken: mine.fencing_token,
        reentered: true,
        ttlMs: expiresAt - now - 1,
      };
    }
    const holdsRead = held.some((lease) => lease.owner === r.owner && lease.kind === 'read');
    const holdsWrite = held.some((lease) => lease.owner === r.owner && lease.kind === 'write');
    if (r.kind === 'write' && holdsRead) throw new LockUpgradeError(r.key);
    const downgrade = r.kind === 'read' && holdsWrite;

    const blocking =
      r.kind === 'semaphore'
        ? held
        : r.kind === 'read'
          ? held.filter((lease) => lease.kind === 'write' && lease.owner !== r.owner)
          : held;
    const fits =
      downgrade ||
      (r.kind === 'semaphore'
        ? held.reduce((sum, lease) => sum + lease.permits, 0) + r.permits <= limit
        : blocking.length === 0);
    const entry = queued.find((w) => w.owner === r.owner && w.kind === r.kind);
    const ahead = downgrade
      ? []
      : queued.filter((w) => w.owner !== r.owner && (entry === undefined || w.seq < entry.seq));

    if (fits && ahead.length === 0) {
      if (entry) deleteWaiter.run(r.key, family, r.owner, r.kind);
      let token: bigint;
      if (r.kind === 'read') {
        // A read carries the token of the key's last write (a fresh one for a key with no row:
        // larger than every write granted before it).
        token = keyRow?.fencing_token ?? freshToken();
        if (!keyRow) insertKey.run(r.key, family, null, token);
      } else {
        token = freshToken();
        if (keyRow) setKeyToken.run(token, r.key, family);
        else insertKey.run(r.key, family, r.kind === 'semaphore' ? limit : null, token);
      }
      insertLease.run(r.key, family, r.owner, r.kind, r.permits, expiryFor(now, r.ttlMs), token);
      return { acquired: true, fencingToken: token, reentered: false, ttlMs: r.ttlMs };
    }

    // The waiter comes back within `recheckMs` (the retryAfterMs below); see waiter-lease.ts.
    const { recheckMs, refresh } = waiterLease(entry, now, r.ttlMs);
    if (r.queue && refresh) {
      upsertWaiter.run(r.key, family, r.owner, r.kind, expiryFor(now, r.ttlMs));
      if (!keyRow) {
        insertKey.run(r.key, family, r.kind === 'semaphore' ? limit : null, freshToken());
      }
    }
    // When something may change: the first blocking lease or queue entry ahead to expire.
    let soonest = Number.POSITIVE_INFINITY;
    for (const row of fits ? [] : blocking) soonest = Math.min(soonest, row.expires_at);
    for (const row of ahead) soonest = Math.min(soonest, row.expires_at);
    let retryAfterMs = Number.isFinite(soonest) ? Math.max(0, soonest - now) : undefined;
    // A queued waiter must come back before its entry's lease runs out.
    if (r.queue) retryAfterMs = Math.min(retryAfterMs ?? r.ttlMs, recheckMs);
    return { acquired: false, retryAfterMs };
  });

  const extendTx = db.transaction(
    (requests: readonly (LeaseRef & { readonly ttlMs: number })[]): ExtendResult[] => {
      const now = clock();
      return requests.map(
        ({ key, owner, kind, ttlMs }) =>
          renewLease.run(expiryFor(now, ttlMs), key, familyOf(kind), owner, kind, now).changes ===
          1,
      );
    },
  );

  const releaseTx = db.transaction(({ key, owner, kind }: LeaseRef): ReleaseResult => {
    const family = familyOf(kind);
    purge(key, family, clock());
    const mine = readLeases(key, family).find(
      (lease) => lease.owner === owner && lease.kind === kind,
    );
    if (!mine) {
      dropKeyIfIdle(key, family);
      return 'not-held';
    }
    if (mine.count > 1) {
      decrementLease.run(mine.seq);
      return 'decremented';
    }
    deleteLease.run(mine.seq);
    dropKeyIfIdle(key, family);
    return 'released';
  });

  const abandonTx = db.transaction(({ key, owner, kind }: LeaseRef): boolean => {
    const family = familyOf(kind);
    purge(key, family, clock());
    const removed = deleteWaiter.run(key, family, owner, kind).changes > 0;
    dropKeyIfIdle(key, family);
    return removed;
  });

  const inspectTx = db.transaction((family: Family, key: string): SharedState | null => {
    const now = clock();
    const live = readLeases(key, family).filter((lease) => lease.expires_at > now);
    const waiting = readWaiters(key, family).filter((w) => w.expires_at > now);
    if (live.length === 0 && waiting.length === 0) return null;
    const keyRow = readKey(key, family);
    const holders: LeaseState[] = live.map((lease) => ({
      kind: lease.kind,
      owner: lease.owner,
      permits: lease.permits,
      count: lease.count,
      ttlMs: lease.expires_at - now,
      fencingToken: lease.fencing_token,
    }));
    return {
      key,
      limit: family === 'semaphore' ? (keyRow?.limit ?? 0) : Number.POSITIVE_INFINITY,
      holders,
      waiters: waiting.length,
    };
  });

  const forceTx = db.transaction((family: Family, key: string): boolean => {
    const now = clock();
    const live =
      readLeases(key, family).some((lease) => lease.expires_at > now) ||
      readWaiters(key, family).some((w) => w.expires_at > now);
    deleteKeyLeases.run(key, family);
    deleteKeyWaiters.run(key, family);
    // The key's last token goes with its row; the file's counter keeps later tokens larger.
    deleteKey.run(key, family);
    return live;
  });

  // Leases and queue entries of processes that died would otherwise stay forever.
  db.transaction((now: number) => {
    db.prepare<[number]>(`DELETE FROM ${leases} WHERE expires_at <= ?`).run(now);
    db.prepare<[number]>(`DELETE FROM ${waiters} WHERE expires_at <= ?`).run(now);
    db.prepare(
      `DELETE FROM ${keys} WHERE NOT EXISTS (SELECT 1 FROM ${leases} l WHERE l.name = ${keys}.name AND l.family = ${keys}.family)
         AND NOT EXISTS (SELECT 1 FROM ${waiters} w WHERE w.name = ${keys}.name AND w.family = ${keys}.family)`,
    ).run();
  }).immediate(clock());

  return {
    capabilities: {
      maxSemaphoreLimit: Number.POSITIVE_INFINITY,
      readWrite: true,
      watch: false,
      nativeWait: false,
      batchExtend: true,
    },
    tryAcquire: (request) =>
      run('shared.tryAcquire', request.key, () => tryAcquireTx.immediate(request)),
    extend: (request) => run('shared.extend', request.key, () => extendTx.immediate([request])[0]!),
    extendMany: (requests) =>
      run('shared.extendMany', undefined, () => extendTx.immediate(requests)),
    release: (request) => run('shared.release', request.key, () => releaseTx.immediate(request)),
    abandon: (request) => run('shared.abandon', request.key, () => abandonTx.immediate(request)),
    // One WAL snapshot, no write lock: inspecting never blocks another process's grant.
    inspect: (family, key) => run('shared.inspect', key, () => inspectTx.deferred(family, key)),
    forceRelease: (family, key) =>
      run('shared.forceRelease', key, () => forceTx.immediate(family, key)),
  };
}
