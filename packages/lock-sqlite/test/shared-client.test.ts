import { join } from 'node:path';
import {
  createLockClient,
  type LockClient,
  LockLimitError,
  LockUpgradeError,
} from '@dlock/lock-core';
import { makeTempDir, uniqueName } from '@dlock/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../src/index.js';

// The public API (locks.semaphore, locks.readWriteLock) on lock-sqlite: two clients on one file
// stand for two processes; waiters poll the file.

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let path: string;
const clients: LockClient[] = [];

beforeAll(async () => {
  dir = await makeTempDir('dlock-sqlite-shared-client-');
  path = join(dir.path, 'locks.db');
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(() => dir.remove());

function client(): LockClient {
  const locks = createLockClient(sqliteBackend({ path }), { ttlMs: 10_000 });
  clients.push(locks);
  return locks;
}

describe('lock-sqlite semaphore through the client', () => {
  it('admits at most limit at once; a waiter gets the permit a holder releases', async () => {
    const [a, b] = [client(), client()];
    const key = uniqueName('client-sem');
    const first = await a.semaphore(key, { limit: 2 }).acquire();
    const second = await b.semaphore(key, { limit: 2 }).acquire();
    expect(await a.semaphore(key, { limit: 2 }).tryAcquire()).toBeNull();
    const info = await b.semaphore(key, { limit: 2 }).inspect();
    expect(info).toMatchObject({ key, limit: 2, available: 0 });
    expect(info.holders).toHaveLength(2);

    const waiting = a.semaphore(key, { limit: 2 }).acquire({ waitTimeoutMs: 10_000 });
    await second.release();
    const third = await waiting;
    expect(third.fencingToken).toBeGreaterThan(second.fencingToken);
    expect(third.permits).toBe(1);
    await Promise.all([first.release(), third.release()]);
    expect((await a.semaphore(key, { limit: 2 }).inspect()).available).toBe(2);
  });

  it('a queued permits: limit request goes before later single permits', async () => {
    const [a, b] = [client(), client()];
    const key = uniqueName('client-fifo');
    const sem = (locks: LockClient) => locks.semaphore(key, { limit: 3 });
    const holder = await sem(a).acquire();
    const order: string[] = [];
    const big = sem(b)
      .using(async () => order.push('big'), { permits: 3, waitTimeoutMs: 10_000 })
      .then(() => order.push('big done'));
    // the big request is queued on the file before the single ones ask
    await expectQueued(a, key, 1);
    const small = sem(a).using(async () => order.push('small'), { waitTimeoutMs: 10_000 });
    await expectQueued(a, key, 2);
    await holder.release();
    await Promise.all([big, small]);
    expect(order.indexOf('big')).toBeLessThan(order.indexOf('small'));
  });

  it('a different limit is LockLimitError, changeLimit changes it', async () => {
    const [a, b] = [client(), client()];
    const key = uniqueName('client-limit');
    const held = await a.semaphore(key, { limit: 2 }).acquire();
    await expect(b.semaphore(key, { limit: 3 }).tryAcquire()).rejects.toSatisfy(
      LockLimitError.isInstance,
    );
    const changed = await b.semaphore(key, { limit: 3, changeLimit: true }).tryAcquire();
    expect(changed).not.toBeNull();
    expect((await a.semaphore(key, { limit: 3 }).inspect()).limit).toBe(3);
    await Promise.all([held.release(), changed!.release()]);
  });

  it('a wait given up (timeout) leaves no queue entry behind', async () => {
    const [a, b] = [client(), client()];
    const key = uniqueName('client-timeout');
    const held = await a.semaphore(key, { limit: 1 }).acquire();
    await expect(b.semaphore(key, { limit: 1 }).acquire({ waitTimeoutMs: 50 })).rejects.toThrow();
    expect((await a.semaphore(key, { limit: 1 }).inspect()).waiters).toBe(0);
    await held.release();
  });
  it('an abort while queued rejects with the reason and leaves no queue entry behind', async () => {
    const [a, b] = [client(), client()];
    const key = uniqueName('client-abort');
    const held = await a.semaphore(key, { limit: 1 }).acquire();
    const controller = new AbortController();
    const waiting = b.semaphore(key, { limit: 1 }).acquire({ signal: controller.signal });
    await expectQueued(a, key, 1);
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect((await a.semaphore(key, { limit: 1 }).inspect()).waiters).toBe(0);
    await held.release();
    // nothing of the key is left in the file
    const backend = sqliteBackend({ path });
    try {
      expect(await backend.shared!.inspect('semaphore', key)).toBeNull();
    } finally {
      await backend.close();
    }
  });
});

describe('lock-sqlite read-write lock through the client', () => {
  it('readers share, a writer waits for them, a queued writer stops new readers', async () => {
    const [a, b] = [client(), client()];
    const key = uniqueName('client-rw');
    const r1 = await a.readWriteLock(key).read.acquire();
    const r2 = await b.readWriteLock(key).read.acquire();
    const writer = b.readWriteLock(key).write.acquire({ waitTimeoutMs: 10_000 });
    await expectQueued(a, key, 1, 'read-write');
    expect(await a.readWriteLock(key).read.tryAcquire()).toBeNull();
    await Promise.all([r1.release(), r2.release()]);
    const w = await writer;
    expect(w.fencingToken).toBeGreaterThanOrEqual(r1.fencingToken);
    expect((await a.readWriteLock(key).inspect()).writer).not.toBeNull();
    await w.release();
  });

  it('downgrade inside using works; upgrade is LockUpgradeError at once', async () => {
    const locks = client();
    const rw = locks.readWriteLock(uniqueName('client-grade'));
    await rw.write.using(async (_signal, write) => {
      await rw.read.using(async (_s, read) => {
        expect(read.fencingToken).toBe(write.fencingToken);
      });
    });
    await rw.read.using(async () => {
      await expect(rw.write.acquire()).rejects.toSatisfy(LockUpgradeError.isInstance);
    });
  });
});

async function expectQueued(
  locks: LockClient,
  key: string,
  waiters: number,
  family: 'semaphore' | 'read-write' = 'semaphore',
): Promise<void> {
  const read = () =>
    family === 'semaphore'
      ? locks.semaphore(key, { limit: 3 }).inspect()
      : locks.readWriteLock(key).inspect();
  // Bounded by the test's timeout: the count is reached once the waiters' first attempts ran.
  for (;;) {
    if ((await read()).waiters === waiters) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
