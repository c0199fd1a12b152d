import { createLockClient, type LockClient, LockUpgradeError } from '@dlock/lock-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { asPool, requireMysql, testPool } from './helpers/mysql.js';
import { sharedTempTables } from './helpers/shared.js';

const mysql = await requireMysql();

// The client API (`locks.semaphore`, `locks.readWriteLock`) on each mode's backend: the shared
// keys are the same rows in all three.
for (const mode of ['row', 'get-lock'] satisfies MysqlLockMode[]) {
  describe.skipIf(!mysql.available)(
    `mysql ${mode}: semaphores and read-write locks (client)`,
    () => {
      const pool = testPool(8);
      let table = '';
      let drop = async () => {};
      let a: LockClient;
      let b: LockClient;
      beforeAll(async () => {
        ({ name: table, drop } = await sharedTempTables(pool, `client_${mode.replace('-', '_')}`));
        a = createLockClient(mysqlBackend({ pool: asPool(pool), mode, table }), { ttlMs: 5_000 });
        b = createLockClient(mysqlBackend({ pool: asPool(pool), mode, table }), { ttlMs: 5_000 });
      });
      afterAll(async () => {
        await a.close();
        await b.close();
        await drop();
        await pool.end();
      });
      const key = (label: string) => `h_mysql:client:${mode}:${label}:${Date.now()}`;

      it('a semaphore admits limit holders across clients and hands a permit to a waiter', async () => {
        const k = key('sem');
        const one = await a.semaphore(k, { limit: 2 }).acquire();
        const two = await b.semaphore(k, { limit: 2 }).acquire({ permits: 1 });
        expect(await b.semaphore(k, { limit: 2 }).tryAcquire()).toBeNull();
        const info = await a.semaphore(k, { limit: 2 }).inspect();
        expect(info).toMatchObject({ limit: 2, available: 0 });
        expect(info.holders).toHaveLength(2);
        const waiting = b.semaphore(k, { limit: 2 }).acquire({ waitTimeoutMs: 10_000 });
        await expect
          .poll(async () => (await a.semaphore(k, { limit: 2 }).inspect()).waiters)
          .toBe(1);
        await one.release();
        const three = await waiting;
        expect(three.fencingToken).toBeGreaterThan(two.fencingToken);
        await two.release();
        await three.release();
        expect((await a.semaphore(k, { limit: 2 }).inspect()).available).toBe(2);
      });

      it('a mismatched limit is LockLimitError; changeLimit changes it', async () => {
        const k = key('limit');
        const held = await a.semaphore(k, { limit: 2 }).acquire();
        await expect(b.semaphore(k, { limit: 3 }).tryAcquire()).rejects.toMatchObject({
          code: 'DLOCK_LIMIT',
        });
        const more = await b.semaphore(k, { limit: 3, changeLimit: true }).tryAcquire();
        expect(more).not.toBeNull();
        expect((await b.semaphore(k, { limit: 3 }).inspect()).limit).toBe(3);
        await more?.release();
        await held.release();
      });

      it('abort while queued leaves no queue entry behind', async () => {
        const k = key('abort');
        const held = await a.semaphore(k, { limit: 1 }).acquire();
        const controller = new AbortController();
        const waiting = b.semaphore(k, { limit: 1 }).acquire({ signal: controller.signal });
        await expect
          .poll(async () => (await a.semaphore(k, { limit: 1 }).inspect()).waiters)
          .toBe(1);
        controller.abort(new Error('gave up'));
        await expect(waiting).rejects.toThrow();
        await expect
          .poll(async () => (await a.semaphore(k, { limit: 1 }).inspect()).waiters)
          .toBe(0);
        await held.release();
        // An attempt in flight at the abort may still be granted; the core gives that grant back
        // (it does not hold the rejection for it), so the permit comes back, but not at once.
        await expect
          .poll(async () => (await a.semaphore(k, { limit: 1 }).inspect()).available)
          .toBe(1);
        expect(await a.semaphore(k, { limit: 1 }).tryAcquire()).not.toBeNull();
      });

      it('read-write: readers share, a queued writer goes first, downgrade works, upgrade is refused', async () => {
        const k = key('rw');
        const r1 = await a.readWriteLock(k).read.acquire();
        const r2 = await b.readWriteLock(k).read.acquire();
        expect((await a.readWriteLock(k).inspect()).readers).toHaveLength(2);
        const writer = b.readWriteLock(k).write.acquire({ waitTimeoutMs: 10_000 });
        await expect.poll(async () => (await a.readWriteLock(k).inspect()).waiters).toBe(1);
        // A queued writer stops new readers.
        expect(await a.readWriteLock(k).read.tryAcquire({ owner: 'late-reader' })).toBeNull();
        await r1.release();
        await r2.release();
        const w = await writer;
        expect(w.fencingToken).toBeGreaterThan(r2.fencingToken);
        await w.release();

        await a.readWriteLock(k).write.using(async () => {
          await a.readWriteLock(k).read.using(async (_signal, read) => {
            expect((await b.readWriteLock(k).inspect()).writer).not.toBeNull();
            expect(read.fencingToken).toBeGreaterThanOrEqual(w.fencingToken);
          });
        });
        await a.readWriteLock(k).read.using(async () => {
          await expect(a.readWriteLock(k).write.acquire()).rejects.toSatisfy(
            LockUpgradeError.isInstance,
          );
        });
        expect(await a.readWriteLock(k).inspect()).toMatchObject({ writer: null, readers: [] });
      });
    },
  );
}
