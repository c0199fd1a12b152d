import { createLockClient, type LockClient, LockLostError } from '@dlock/lock-core';
import {
  type PrivateMariadb,
  requireMariadbBinaries,
  startPrivateMariadb,
  waitUntil,
} from '@dlock/test-utils';
import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchema, type MysqlLockMode, mysqlBackend } from '../src/index.js';

const binaries = await requireMariadbBinaries();

describe.skipIf(!binaries.available)('a database crash and restart (private mariadbd)', () => {
  let server: PrivateMariadb;
  const pools: Pool[] = [];
  const clients: LockClient[] = [];
  const client = (mode: MysqlLockMode, ttlMs: number) => {
    const pool = createPool({ uri: server.url, connectionLimit: 4, connectTimeout: 2_000 });
    pools.push(pool);
    const c = createLockClient(mysqlBackend({ pool, mode, acquireTimeoutMs: 3_000 }), { ttlMs });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startPrivateMariadb();
    const pool = createPool({ uri: server.url, connectionLimit: 1 });
    await ensureSchema(pool);
    await pool.end();
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(pools.map((p) => p.end()));
    await server?.dispose();
  }, 30_000);

  it('row locks survive it, connection-bound locks are reported lost, and fencing tokens keep increasing', async () => {
    const row = client('row', 60_000);
    const bound = {
      'get-lock': client('get-lock', 1_000),
      'for-update': client('for-update', 1_000),
    };
    const rowLock = await row.acquire('restart:row');
    const boundLocks = await Promise.all(
      (['get-lock', 'for-update'] as const).map((mode) =>
        bound[mode].acquire(`restart:${mode}`, { autoExtend: true }),
      ),
    );

    await server.crashAndRestart();

    // Connection-bound: the connection (and with it the lock) is gone; the watchdog says so.
    for (const lock of boundLocks) {
      await waitUntil(() => lock.signal.aborted, { timeoutMs: 10_000, message: lock.key });
      expect(LockLostError.isInstance(lock.signal.reason)).toBe(true);
    }
    // Row: the lease is a committed row, still held after crash recovery.
    const other = client('row', 60_000);
    await waitUntil(async () => (await other.inspect('restart:row').catch(() => null)) !== null, {
      timeoutMs: 10_000,
      message: 'the pool reconnects',
    });
    expect(await other.tryAcquire('restart:row')).toBeNull();
    expect(await rowLock.release()).toBe(true);

    // Fencing counters were committed with each grant: the next grants' tokens are larger.
    const again = await other.acquire('restart:row', { waitTimeoutMs: 5_000 });
    expect(again.fencingToken).toBeGreaterThan(rowLock.fencingToken);
    await again.release();
    for (const [i, mode] of (['get-lock', 'for-update'] as const).entries()) {
      const next = await client(mode, 5_000).acquire(`restart:${mode}`, { waitTimeoutMs: 10_000 });
      expect(next.fencingToken).toBeGreaterThan(boundLocks[i]!.fencingToken);
      await next.release();
    }
  }, 90_000);
});
