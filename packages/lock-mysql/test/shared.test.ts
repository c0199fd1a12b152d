import { LockClosedError } from '@dlock/lock-core';
import type {
  AcquireResult,
  Granted,
  LeaseAcquireRequest,
  LeaseKind,
  LockBackend,
  SharedBackend,
} from '@dlock/lock-core/spi';
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, requireMysql, testPool } from './helpers/mysql.js';
import { sharedTempTables } from './helpers/shared.js';

const mysql = await requireMysql();

let serial = 0;
const uniqueKey = (label: string) => `h_mysql:${label}:${serial++}:${Date.now()}`;

function request(
  key: string,
  owner: string,
  kind: LeaseKind,
  options: Partial<LeaseAcquireRequest> = {},
): LeaseAcquireRequest {
  return {
    key,
    owner,
    kind,
    ttlMs: 30_000,
    limit: 1,
    permits: 1,
    changeLimit: false,
    queue: false,
    ...options,
  };
}

const sem = (
  key: string,
  owner: string,
  limit: number,
  options: Partial<LeaseAcquireRequest> = {},
) => request(key, owner, 'semaphore', { limit, ...options });

function granted(result: AcquireResult): Granted {
  expect(result.acquired).toBe(true);
  return result as Granted;
}

/** Polls `attempt` until it grants (a server-clock expiry has no event to wait for). */
async function untilGranted(
  attempt: () => Promise<AcquireResult>,
  boundMs = 10_000,
): Promise<Granted> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const result = await attempt();
    if (result.acquired) return result;
    if (Date.now() > deadline) throw new Error('not granted within the bound');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!mysql.available)('mysql shared keys (semaphores, read-write locks)', () => {
  const pool: Pool = testPool();
  let table = '';
  let drop = async () => {};
  let backend: LockBackend;
  let shared: SharedBackend;
  beforeAll(async () => {
    ({ name: table, drop } = await sharedTempTables(pool, 'shared'));
    backend = mysqlBackend({ pool: asPool(pool), mode: 'row', table });
    shared = backend.shared!;
  });
  afterAll(async () => {
    await backend.close();
    await drop();
    await pool.end();
  });

  it('declares its capabilities', () => {
    expect(shared.capabilities).toEqual({
      maxSemaphoreLimit: Number.POSITIVE_INFINITY,
      readWrite: true,
      watch: false,
      nativeWait: false,
      batchExtend: true,
    });
  });

  describe('semaphore', () => {
    it('grants up to the limit, refuses beyond it, and frees a permit on release', async () => {
      const key = uniqueKey('limit');
      const a = granted(await shared.tryAcquire(sem(key, 'a', 2)));
      const b = granted(await shared.tryAcquire(sem(key, 'b', 2)));
      expect(b.fencingToken).toBeGreaterThan(a.fencingToken);
      const refused = await shared.tryAcquire(sem(key, 'c', 2));
      expect(refused.acquired).toBe(false);
      expect(refused.acquired === false && refused.retryAfterMs).toBeGreaterThan(0);
      expect(await shared.release({ key, owner: 'a', kind: 'semaphore' })).toBe('released');
      const c = granted(await shared.tryAcquire(sem(key, 'c', 2)));
      expect(c.fencingToken).toBeGreaterThan(b.fencingToken);
    });

    it('takes several permits atomically: all or none', async () => {
      const key = uniqueKey('permits');
      granted(await shared.tryAcquire(sem(key, 'a', 5, { permits: 2 })));
      expect((await shared.tryAcquire(sem(key, 'b', 5, { permits: 4 }))).acquired).toBe(false);
      const state = await shared.inspect('semaphore', key);
      expect(state?.holders.map((h) => [h.owner, h.permits])).toEqual([['a', 2]]);
      granted(await shared.tryAcquire(sem(key, 'c', 5, { permits: 3 })));
      const big = uniqueKey('big');
      granted(await shared.tryAcquire(sem(big, 'x', 10_000, { permits: 10_000 })));
      expect((await shared.tryAcquire(sem(big, 'y', 10_000))).acquired).toBe(false);
    });

    it('re-enters: count + 1, same token and permits, granted even when full', async () => {
      const key = uniqueKey('reenter');
      const first = granted(await shared.tryAcquire(sem(key, 'a', 1)));
      expect(first.reentered).toBe(false);
      const again = granted(await shared.tryAcquire(sem(key, 'a', 1, { permits: 1 })));
      expect(again).toMatchObject({ reentered: true, fencingToken: first.fencingToken });
      expect((await shared.inspect('semaphore', key))?.holders[0]?.count).toBe(2);
      expect(await shared.release({ key, owner: 'a', kind: 'semaphore' })).toBe('decremented');
      expect(await shared.release({ key, owner: 'a', kind: 'semaphore' })).toBe('released');
      expect(await shared.release({ key, owner: 'a', kind: 'semaphore' })).toBe('not-held');
      expect(await shared.inspect('semaphore', key)).toBeNull();
    });

    it('expires each lease on its own: mixed TTLs never evict one another', async () => {
      const key = uniqueKey('mixed');
      granted(await shared.tryAcquire(sem(key, 'long', 2, { ttlMs: 60_000 })));
      granted(await shared.tryAcquire(sem(key, 'short', 2, { ttlMs: 300 })));
      expect((await shared.tryAcquire(sem(key, 'c', 2, { ttlMs: 300 }))).acquired).toBe(false);
      // Only the short lease's permit comes back, after its own TTL on the server clock.
      granted(await untilGranted(() => shared.tryAcquire(sem(key, 'c', 2, { ttlMs: 300 }))));
      const state = await shared.inspect('semaphore', key);
      expect(state?.holders.map((h) => h.owner).sort()).toEqual(['c', 'long']);
      expect(await shared.extend({ key, owner: 'short', kind: 'semaphore', ttlMs: 1_000 })).toBe(
        false,
      );
      expect(await shared.release({ key, owner: 'short', kind: 'semaphore' })).toBe('not-held');
      expect((await shared.tryAcquire(sem(key, 'd', 2))).acquired).toBe(false);
    });

    it('stores the limit: a mismatch is LockLimitError, changeLimit changes it, a free key takes any', async () => {
      const key = uniqueKey('stored');
      granted(await shared.tryAcquire(sem(key, 'a', 2)));
      await expect(shared.tryAcquire(sem(key, 'b', 3))).rejects.toMatchObject({
        code: 'DLOCK_LIMIT',
        storedLimit: 2,
        requestedLimit: 3,
      });
      granted(await shared.tryAcquire(sem(key, 'b', 3, { changeLimit: true })));
      expect((await shared.inspect('semaphore', key))?.limit).toBe(3);
      granted(await shared.tryAcquire(sem(key, 'c', 3)));
      await expect(shared.tryAcquire(sem(key, 'd', 2))).rejects.toMatchObject({
        code: 'DLOCK_LIMIT',
      });
      for (const owner of ['a', 'b', 'c']) {
        expect(await shared.release({ key, owner, kind: 'semaphore' })).toBe('released');
      }
      granted(await shared.tryAcquire(sem(key, 'e', 1)));
      expect((await shared.inspect('semaphore', key))?.limit).toBe(1);
    });

    it('lowering the limit keeps holders and makes new grants wait until they fit', async () => {
      const key = uniqueKey('lower');
      granted(await shared.tryAcquire(sem(key, 'a', 3)));
      granted(await shared.tryAcquire(sem(key, 'b', 3)));
      expect((await shared.tryAcquire(sem(key, 'c', 1, { changeLimit: true }))).acquired).toBe(
        false,
      );
      expect((await shared.inspect('semaphore', key))?.holders).toHaveLength(2);
      await shared.release({ key, owner: 'a', kind: 'semaphore' });
      expect((await shared.tryAcquire(sem(key, 'c', 1))).acquired).toBe(false);
      await shared.release({ key, owner: 'b', kind: 'semaphore' });
      granted(await shared.tryAcquire(sem(key, 'c', 1)));
    });
  });

  describe('waiter queue', () => {
    it('is strict FIFO: a queued request is served before later ones, also a big one before small ones', async () => {
      const key = uniqueKey('fifo');
      granted(await shared.tryAcquire(sem(key, 'a', 2, { permits: 2 })));
      const big = await shared.tryAcquire(
        sem(key, 'big', 2, { permits: 2, queue: true, ttlMs: 3_000 }),
      );
      expect(big.acquired).toBe(false);
      // retryAfterMs at most a third of the waiter lease, so the core's re-check refreshes it.
      expect(big.acquired === false && big.retryAfterMs).toBeLessThanOrEqual(1_000);
      expect((await shared.tryAcquire(sem(key, 'small', 2, { queue: true }))).acquired).toBe(false);
      expect((await shared.inspect('semaphore', key))?.waiters).toBe(2);
      await shared.release({ key, owner: 'a', kind: 'semaphore' });
      // The key is free, but 'big' is ahead of 'small' (and of a newcomer without an entry).
      expect((await shared.tryAcquire(sem(key, 'small', 2, { queue: true }))).acquired).toBe(false);
      expect((await shared.tryAcquire(sem(key, 'new', 2))).acquired).toBe(false);
      granted(await shared.tryAcquire(sem(key, 'big', 2, { permits: 2, queue: true })));
      expect((await shared.inspect('semaphore', key))?.waiters).toBe(1);
      await shared.release({ key, owner: 'big', kind: 'semaphore' });
      granted(await shared.tryAcquire(sem(key, 'small', 2, { queue: true })));
      expect((await shared.inspect('semaphore', key))?.waiters).toBe(0);
    });

    it('a dead waiter delays the queue by at most its waiter lease', async () => {
      const key = uniqueKey('dead-waiter');
      granted(await shared.tryAcquire(sem(key, 'a', 1)));
      expect(
        (await shared.tryAcquire(sem(key, 'dead', 1, { queue: true, ttlMs: 300 }))).acquired,
      ).toBe(false);
      await shared.release({ key, owner: 'a', kind: 'semaphore' });
      expect((await shared.tryAcquire(sem(key, 'b', 1))).acquired).toBe(false);
      granted(await untilGranted(() => shared.tryAcquire(sem(key, 'b', 1))));
    });

    it('abandon removes the entry (idempotent) and lets the next one in', async () => {
      const key = uniqueKey('abandon');
      granted(await shared.tryAcquire(sem(key, 'a', 1)));
      expect((await shared.tryAcquire(sem(key, 'w', 1, { queue: true }))).acquired).toBe(false);
      await shared.release({ key, owner: 'a', kind: 'semaphore' });
      expect((await shared.tryAcquire(sem(key, 'b', 1))).acquired).toBe(false);
      expect(await shared.abandon({ key, owner: 'w', kind: 'semaphore' })).toBe(true);
      expect(await shared.abandon({ key, owner: 'w', kind: 'semaphore' })).toBe(false);
      expect(await shared.inspect('semaphore', key)).toBeNull();
      granted(await shared.tryAcquire(sem(key, 'b', 1)));
    });

    it('a queued writer stops new readers; readers already holding keep reading', async () => {
      const key = uniqueKey('writer-pref');
      granted(await shared.tryAcquire(request(key, 'r1', 'read')));
      granted(await shared.tryAcquire(request(key, 'r2', 'read')));
      expect((await shared.tryAcquire(request(key, 'w', 'write', { queue: true }))).acquired).toBe(
        false,
      );
      expect((await shared.tryAcquire(request(key, 'r3', 'read', { queue: true }))).acquired).toBe(
        false,
      );
      // Re-entry is granted even with a writer waiting.
      granted(await shared.tryAcquire(request(key, 'r1', 'read')));
      await shared.release({ key, owner: 'r1', kind: 'read' });
      await shared.release({ key, owner: 'r1', kind: 'read' });
      expect((await shared.tryAcquire(request(key, 'w', 'write', { queue: true }))).acquired).toBe(
        false,
      );
      await shared.release({ key, owner: 'r2', kind: 'read' });
      const write = granted(await shared.tryAcquire(request(key, 'w', 'write', { queue: true })));
      expect((await shared.tryAcquire(request(key, 'r3', 'read', { queue: true }))).acquired).toBe(
        false,
      );
      await shared.release({ key, owner: 'w', kind: 'write' });
      const read = granted(await shared.tryAcquire(request(key, 'r3', 'read', { queue: true })));
      expect(read.fencingToken).toBeGreaterThanOrEqual(write.fencingToken);
    });
  });

  describe('read-write lock', () => {
    it('readers share, a writer excludes everyone', async () => {
      const key = uniqueKey('rw');
      granted(await shared.tryAcquire(request(key, 'r1', 'read')));
      granted(await shared.tryAcquire(request(key, 'r2', 'read')));
      expect((await shared.tryAcquire(request(key, 'w', 'write'))).acquired).toBe(false);
      await shared.release({ key, owner: 'r1', kind: 'read' });
      await shared.release({ key, owner: 'r2', kind: 'read' });
      granted(await shared.tryAcquire(request(key, 'w', 'write')));
      expect((await shared.tryAcquire(request(key, 'r1', 'read'))).acquired).toBe(false);
      expect((await shared.tryAcquire(request(key, 'w2', 'write'))).acquired).toBe(false);
      const state = await shared.inspect('read-write', key);
      expect(state).toMatchObject({ limit: Number.POSITIVE_INFINITY, waiters: 0 });
      expect(state?.holders.map((h) => [h.owner, h.kind])).toEqual([['w', 'write']]);
    });

    it('downgrade: a writer takes the read lock at once; releasing the write leaves the read', async () => {
      const key = uniqueKey('downgrade');
      const write = granted(await shared.tryAcquire(request(key, 'a', 'write')));
      expect((await shared.tryAcquire(request(key, 'w', 'write', { queue: true }))).acquired).toBe(
        false,
      );
      const read = granted(await shared.tryAcquire(request(key, 'a', 'read')));
      expect(read.reentered).toBe(false);
      expect(read.fencingToken).toBeGreaterThanOrEqual(write.fencingToken);
      expect(await shared.release({ key, owner: 'a', kind: 'write' })).toBe('released');
      // The queued writer cannot slip in while the downgraded read is held.
      expect((await shared.tryAcquire(request(key, 'w', 'write', { queue: true }))).acquired).toBe(
        false,
      );
      const state = await shared.inspect('read-write', key);
      expect(state?.holders.map((h) => [h.owner, h.kind])).toEqual([['a', 'read']]);
      expect(await shared.release({ key, owner: 'a', kind: 'read' })).toBe('released');
      granted(await shared.tryAcquire(request(key, 'w', 'write', { queue: true })));
    });

    it('upgrade: a reader asking for the write lock gets LockUpgradeError at once', async () => {
      const key = uniqueKey('upgrade');
      granted(await shared.tryAcquire(request(key, 'a', 'read')));
      await expect(
        shared.tryAcquire(request(key, 'a', 'write', { queue: true })),
      ).rejects.toMatchObject({
        code: 'DLOCK_UPGRADE',
      });
      // Nothing was queued by the refused upgrade.
      expect((await shared.inspect('read-write', key))?.waiters).toBe(0);
    });

    it('each reader expires on its own while another keeps renewing', async () => {
      const key = uniqueKey('reader-ttl');
      granted(await shared.tryAcquire(request(key, 'dead', 'read', { ttlMs: 300 })));
      granted(await shared.tryAcquire(request(key, 'live', 'read', { ttlMs: 1_000 })));
      expect((await shared.tryAcquire(request(key, 'w', 'write', { queue: true }))).acquired).toBe(
        false,
      );
      await untilGranted(async () => {
        expect(await shared.extend({ key, owner: 'live', kind: 'read', ttlMs: 1_000 })).toBe(true);
        const state = await shared.inspect('read-write', key);
        const owners = state?.holders.map((h) => h.owner) ?? [];
        return owners.includes('dead')
          ? { acquired: false }
          : { acquired: true, fencingToken: 0n, reentered: false, ttlMs: 0 };
      });
      expect((await shared.inspect('read-write', key))?.holders.map((h) => h.owner)).toEqual([
        'live',
      ]);
      await shared.release({ key, owner: 'live', kind: 'read' });
      granted(await shared.tryAcquire(request(key, 'w', 'write', { queue: true })));
    });

    it('keeps read and write counts apart, and a semaphore of the same name is another key', async () => {
      const key = uniqueKey('namespaces');
      granted(await shared.tryAcquire(request(key, 'a', 'write')));
      granted(await shared.tryAcquire(request(key, 'a', 'write')));
      granted(await shared.tryAcquire(request(key, 'a', 'read')));
      granted(await shared.tryAcquire(sem(key, 'b', 1)));
      const state = await shared.inspect('read-write', key);
      expect(state?.holders.map((h) => [h.kind, h.count])).toEqual([
        ['write', 2],
        ['read', 1],
      ]);
      expect((await shared.inspect('semaphore', key))?.holders.map((h) => h.owner)).toEqual(['b']);
      // Locking the mutex of the same name is a third, separate key.
      expect((await backend.tryAcquire({ key, owner: 'c', ttlMs: 30_000 })).acquired).toBe(true);
      await backend.release({ key, owner: 'c' });
    });
  });

  describe('renewal, inspection and the escape hatch', () => {
    it('extendMany answers per lease, in order (one UPDATE and one SELECT per 100 leases)', async () => {
      const key = uniqueKey('many');
      granted(await shared.tryAcquire(sem(key, 'a', 3)));
      granted(await shared.tryAcquire(request(key, 'r', 'read')));
      granted(await shared.tryAcquire(sem(key, 'gone', 3)));
      await shared.release({ key, owner: 'gone', kind: 'semaphore' });
      const results = await shared.extendMany!([
        { key, owner: 'a', kind: 'semaphore', ttlMs: 50_000 },
        { key, owner: 'gone', kind: 'semaphore', ttlMs: 50_000 },
        { key, owner: 'r', kind: 'read', ttlMs: 40_000 },
        { key, owner: 'r', kind: 'write', ttlMs: 40_000 },
        { key, owner: 'nobody', kind: 'semaphore', ttlMs: 40_000 },
      ]);
      expect(results).toEqual([true, false, true, false, false]);
      const ttl = (await shared.inspect('semaphore', key))?.holders[0]?.ttlMs ?? 0;
      expect(ttl).toBeGreaterThan(40_000);
      const many = Array.from({ length: 150 }, (_, i) => ({
        key,
        owner: i === 120 ? 'a' : `none${i}`,
        kind: 'semaphore' as const,
        ttlMs: 30_000,
      }));
      const answers = await shared.extendMany!(many);
      expect(answers.filter(Boolean)).toHaveLength(1);
      expect(answers[120]).toBe(true);
    });

    it('forceRelease deletes leases and queue entries, and tokens keep growing', async () => {
      const key = uniqueKey('force');
      const first = granted(await shared.tryAcquire(sem(key, 'a', 1)));
      expect((await shared.tryAcquire(sem(key, 'w', 1, { queue: true }))).acquired).toBe(false);
      expect(await shared.forceRelease!('semaphore', key)).toBe(true);
      expect(await shared.inspect('semaphore', key)).toBeNull();
      expect(await shared.forceRelease!('semaphore', key)).toBe(false);
      expect(await shared.release({ key, owner: 'a', kind: 'semaphore' })).toBe('not-held');
      const next = granted(await shared.tryAcquire(sem(key, 'b', 1)));
      expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
    });

    it('fencing tokens strictly increase over every grant of a key', async () => {
      const key = uniqueKey('fence');
      let last = 0n;
      for (let i = 0; i < 20; i++) {
        const kind = i % 3 === 0 ? 'write' : 'read';
        const lease = granted(await shared.tryAcquire(request(key, `o${i}`, kind)));
        if (kind === 'write') expect(lease.fencingToken).toBeGreaterThan(last);
        else expect(lease.fencingToken).toBeGreaterThanOrEqual(last);
        last = lease.fencingToken;
        await shared.release({ key, owner: `o${i}`, kind });
      }
    });
  });

  it('two pools racing for the last permit 200 times never over-admit', async () => {
    const poolB = testPool(4);
    const other = mysqlBackend({ pool: asPool(poolB), mode: 'row', table }).shared!;
    try {
      const key = uniqueKey('race');
      granted(await shared.tryAcquire(sem(key, 'holder', 2)));
      for (let round = 0; round < 200; round++) {
        const [x, y] = await Promise.all([
          shared.tryAcquire(sem(key, `x${round}`, 2)),
          other.tryAcquire(sem(key, `y${round}`, 2)),
        ]);
        const winners = [x, y].filter((result) => result.acquired).length;
        expect(winners, `round ${round}`).toBe(1);
        const owner = x.acquired ? `x${round}` : `y${round}`;
        expect(await other.release({ key, owner, kind: 'semaphore' })).toBe('released');
      }
      const state = await shared.inspect('semaphore', key);
      expect(state?.holders.map((h) => h.owner)).toEqual(['holder']);
    } finally {
      await poolB.end();
    }
  }, 60_000);

  for (const mode of ['for-update', 'get-lock'] satisfies MysqlLockMode[]) {
    it(`${mode} mode: shared keys are rows on the server clock too`, async () => {
      const other = mysqlBackend({ pool: asPool(pool), mode, table });
      try {
        const key = uniqueKey(mode);
        const sharedOther = other.shared!;
        granted(await sharedOther.tryAcquire(sem(key, 'a', 1)));
        // Same tables as the row-mode backend: one semaphore, whatever the mutex mode.
        expect((await shared.tryAcquire(sem(key, 'b', 1))).acquired).toBe(false);
        expect(await sharedOther.release({ key, owner: 'a', kind: 'semaphore' })).toBe('released');
        granted(await shared.tryAcquire(request(key, 'r', 'read')));
        expect((await sharedOther.tryAcquire(request(key, 'w', 'write'))).acquired).toBe(false);
      } finally {
        await other.close();
      }
    });
  }

  it('refuses with LockClosedError after close', async () => {
    const closing = mysqlBackend({ pool: asPool(pool), mode: 'row', table });
    const s = closing.shared!;
    await closing.close();
    const key = uniqueKey('closed');
    await expect(s.tryAcquire(sem(key, 'a', 1))).rejects.toBeInstanceOf(LockClosedError);
    await expect(s.release({ key, owner: 'a', kind: 'semaphore' })).rejects.toBeInstanceOf(
      LockClosedError,
    );
    await expect(s.inspect('semaphore', key)).rejects.toBeInstanceOf(LockClosedError);
  });
});
