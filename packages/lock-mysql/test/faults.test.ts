import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient, LockLostError } from '@dlock/lock-core';
import {
  freePort,
  type ManagedProcess,
  recordUnhandledRejections,
  spawnNodeWorker,
  waitUntil,
} from '@dlock/test-utils';
import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectBackend, type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { getLockName } from '../src/keys.js';
import { asPool, MYSQL_URL, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();
const MODES: MysqlLockMode[] = ['row', 'get-lock', 'for-update'];
const CONNECTION_BOUND: MysqlLockMode[] = ['get-lock', 'for-update'];
const holderScript = fileURLToPath(new URL('./workers/holder.ts', import.meta.url));

describe.skipIf(!mysql.available)('faults', () => {
  const pool = testPool();
  const extraPools: Pool[] = [];
  const clients: LockClient[] = [];
  const workers: ManagedProcess[] = [];
  let unhandled: ReturnType<typeof recordUnhandledRejections> | undefined;
  let table = '';
  let drop = async () => {};
  const client = (mode: MysqlLockMode, ttlMs: number, p: Pool = pool, extra = {}) => {
    const c = createLockClient(mysqlBackend({ pool: asPool(p), mode, table, ...extra }), { ttlMs });
    clients.push(c);
    return c;
  };
  const holderOf = async (key: string): Promise<number> => {
    const [rows] = await pool.query('SELECT `holder` FROM ?? WHERE `name` = ?', [
      table,
      Buffer.from(key),
    ]);
    return Number((rows as { holder: number }[])[0]?.holder);
  };

  beforeAll(async () => {
    ({ name: table, drop } = await tempTable(pool, 'faults'));
    unhandled = recordUnhandledRejections();
  });
  afterEach(() => {
    expect(unhandled?.reasons).toEqual([]);
  });
  afterAll(async () => {
    unhandled?.stop();
    await Promise.all(workers.map((w) => w.kill()));
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(extraPools.map((p) => p.end()));
    await drop();
    await pool.end();
  });

  for (const mode of MODES) {
    // Row leases outlive their holder until the TTL; connection-bound locks end with the
    // connection, so their TTL is set far beyond the wait allowed for the hand-over.
    const ttlMs = mode === 'row' ? 1_500 : 30_000;
    it(`[${mode}] a SIGKILLed holder process stops blocking others ${mode === 'row' ? 'within its TTL' : 'as soon as its connection is gone'}`, async () => {
      const key = `sigkill:${mode}`;
      const holder = await spawnNodeWorker(holderScript, {
        name: `holder-${mode}`,
        env: {
          MYSQL_URL,
          LOCK_MODE: mode,
          LOCK_TABLE: table,
          LOCK_KEY: key,
          LOCK_TTL_MS: String(ttlMs),
        },
        readyWhen: /HELD \d+/,
        readyTimeoutMs: 20_000,
      });
      workers.push(holder);
      const heldToken = BigInt(/HELD (\d+)/.exec(holder.output())![1]!);
      const locks = client(mode, ttlMs);
      expect(await locks.tryAcquire(key)).toBeNull();
      await holder.kill();
      // Row: within the TTL (plus the waiter's re-check). Connection-bound: long before the TTL.
      const waitTimeoutMs = mode === 'row' ? ttlMs * 3 : ttlMs / 2;
      const lock = await locks.acquire(key, { waitTimeoutMs });
      expect(lock.fencingToken).toBeGreaterThan(heldToken);
      await lock.release();
    }, 60_000);
  }

  for (const mode of CONNECTION_BOUND) {
    it(`[${mode}] KILL of the holder's connection aborts lock.signal with LockLostError`, async () => {
      const key = `killed-connection:${mode}`;
      const ttlMs = 600;
      const [locks, other] = [client(mode, ttlMs), client(mode, ttlMs)];
      const lost: unknown[] = [];
      const lock = await locks.acquire(key, { autoExtend: true, onLost: (e) => lost.push(e) });
      const id = await holderOf(key);
      expect(id).toBeGreaterThan(0);
      await pool.query('KILL ?', [id]);
      await waitUntil(() => lock.signal.aborted, { timeoutMs: ttlMs * 5, message: 'signal' });
      expect(LockLostError.isInstance(lock.signal.reason)).toBe(true);
      expect(lost).toHaveLength(1);
      // The server freed the lock with the connection: the next owner gets it at once.
      const next = await other.acquire(key, { waitTimeoutMs: 0 });
      expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
      expect(await lock.release()).toBe(false);
      await next.release();
    }, 30_000);

    it(`[${mode}] a holder whose process stalls past its TTL is cut off by the next waiter`, async () => {
      const key = `stalled:${mode}`;
      const ttlMs = 500;
      const holder = await spawnNodeWorker(holderScript, {
        name: `stalled-${mode}`,
        env: {
          MYSQL_URL,
          LOCK_MODE: mode,
          LOCK_TABLE: table,
          LOCK_KEY: key,
          LOCK_TTL_MS: String(ttlMs),
          LOCK_STALL: '1',
        },
        readyWhen: /HELD \d+/,
        readyTimeoutMs: 20_000,
      });
      workers.push(holder);
      const heldToken = BigInt(/HELD (\d+)/.exec(holder.output())![1]!);
      const started = performance.now();
      const lock = await client(mode, 5_000).acquire(key, { waitTimeoutMs: 15_000 });
      // Correctness bound only: not before the stalled holder's lease ran out.
      expect(performance.now() - started).toBeGreaterThanOrEqual(ttlMs * 0.5);
      expect(lock.fencingToken).toBeGreaterThan(heldToken);
      await lock.release();
      // It was still alive (frozen), so the lock really was taken from a live holder.
      expect((await holder.kill()).signal).toBe('SIGKILL');
    }, 60_000);

    it(`[${mode}] an aborted wait leaves no waiting statement on the server`, async () => {
      const key = `abort-trace:${mode}`;
      const [a, b] = [client(mode, 5_000), client(mode, 5_000)];
      const held = await a.acquire(key);
      const controller = new AbortController();
      const waiting = b.acquire(key, { signal: controller.signal, strategy: 'native' });
      const marker = mode === 'get-lock' ? getLockName(key, 'dlock:') : 'FOR UPDATE';
      const waiters = async () => {
        const [rows] = await pool.query(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', ?, '%') AND INFO NOT LIKE '%PROCESSLIST%' AND DB = DATABASE()",
          [marker],
        );
        return Number((rows as { n: number }[])[0]?.n);
      };
      await waitUntil(async () => (await waiters()) > 0, {
        message: 'the wait reached the server',
      });
      controller.abort(new Error('gave up'));
      await expect(waiting).rejects.toThrow('gave up');
      await waitUntil(async () => (await waiters()) === 0, { message: 'the server wait ended' });
      await held.release();
    }, 30_000);
  }

  for (const mode of MODES) {
    it(`[${mode}] an exhausted pool fails with LockBackendError instead of hanging`, async () => {
      // for-update needs a second connection beside the holder's for its state row.
      const size = mode === 'for-update' ? 2 : 1;
      const small = createPool({ uri: MYSQL_URL, connectionLimit: size });
      extraPools.push(small);
      const hogs = await Promise.all(Array.from({ length: size }, () => small.getConnection()));
      const locks = client(mode, 5_000, small, { acquireTimeoutMs: 300 });
      const error = await locks.acquire(`exhausted:${mode}`).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'DLOCK_BACKEND' });
      expect(String((error as Error).message)).toMatch(/no pool connection/);
      for (const hog of hogs) hog.release();
      const lock = await locks.acquire(`exhausted:${mode}`, { waitTimeoutMs: 5_000 });
      await lock.release();
    }, 30_000);

    it(`[${mode}] an unreachable server fails with LockBackendError instead of hanging`, async () => {
      const port = await freePort();
      const nowhere = createPool({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1_000 });
      extraPools.push(nowhere);
      const locks = client(mode, 5_000, nowhere, { acquireTimeoutMs: 2_000 });
      await expect(locks.acquire('unreachable')).rejects.toMatchObject({ code: 'DLOCK_BACKEND' });
      await expect(locks.inspect('unreachable')).rejects.toMatchObject({ code: 'DLOCK_BACKEND' });
      const url = new URL(`mysql://root@127.0.0.1:${port}/test?mode=${mode}`);
      const viaUrl = createLockClient(await connectBackend(url, {}));
      clients.push(viaUrl);
      await expect(viaUrl.tryAcquire('unreachable')).rejects.toMatchObject({
        code: 'DLOCK_BACKEND',
      });
    }, 30_000);
  }
});
