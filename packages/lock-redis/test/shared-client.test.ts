import { createLockClient, LockLimitError, LockUpgradeError } from '@dlock/lock-core';
import { requireSharedRedis, SHARED_REDIS, uniquePrefix } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';

const redis = await requireSharedRedis();

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe.skipIf(!redis.available)(
  'redis semaphores and read-write locks through the client',
  () => {
    const prefix = uniquePrefix('test:sem-redis:client:');
    const redisClients: Redis[] = [];
    const lockClients: Array<ReturnType<typeof createLockClient>> = [];
    /** A lock client on a connection of its own, like another process. */
    const newLocks = (ttlMs = 30_000, backend = newBackend()) => {
      const locks = createLockClient(backend, { ttlMs });
      lockClients.push(locks);
      return locks;
    };
    const newBackend = () => {
      const client = new Redis({ ...SHARED_REDIS, lazyConnect: false });
      redisClients.push(client);
      return redisBackend({ client, prefix });
    };

    afterAll(async () => {
      await Promise.all(lockClients.map((l) => l.close()));
      const cleaner = redisClients[0]!;
      let cursor = '0';
      do {
        const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await cleaner.unlink(...keys);
      } while (cursor !== '0');
      await Promise.all(redisClients.map((c) => c.quit()));
    });

    it('at most `limit` hold at once across clients, and the limit is reached', async () => {
      const clients = [newLocks(), newLocks(), newLocks()];
      const both = gate();
      let active = 0;
      let most = 0;
      const tasks = Array.from({ length: 9 }, (_, i) =>
        clients[i % 3]!.semaphore('encode', { limit: 2 }).using(async () => {
          active++;
          most = Math.max(most, active);
          if (active === 2) both.open();
          // The first holders stay until two hold at once: a broken limit of 1 never gets there.
          await both.opened;
          active--;
        }),
      );
      await Promise.all(tasks);
      expect(most).toBe(2);
      const info = await clients[0]!.semaphore('encode', { limit: 2 }).inspect();
      expect(info).toMatchObject({ limit: 2, available: 2, holders: [] });
    });

    it('a waiter in another client is woken by the release message, not by its re-check', async () => {
      const a = newLocks();
      // Count the waiter's attempts (on the real backend): it asks once, subscribes, asks again,
      // then sleeps until the message or its re-check a third of its 30 s TTL later.
      const backend = newBackend();
      const shared = backend.shared!;
      const tryAcquire = shared.tryAcquire.bind(shared);
      let answered = 0;
      Object.assign(shared, {
        tryAcquire: (request: Parameters<typeof tryAcquire>[0]) =>
          tryAcquire(request).finally(() => answered++),
      });
      const b = newLocks(30_000, backend);
      const permit = await a.semaphore('handoff', { limit: 1 }).acquire();
      const waiting = b.semaphore('handoff', { limit: 1 }).acquire({ waitTimeoutMs: 4_000 });
      await expect.poll(() => answered).toBe(2);
      await permit.release();
      const second = await waiting;
      expect(answered).toBe(3);
      expect(second.fencingToken).toBeGreaterThan(permit.fencingToken);
      await second.release();
    });

    it('a different limit is a LockLimitError; a read holder asking write is a LockUpgradeError', async () => {
      const locks = newLocks();
      const held = await locks.semaphore('limits', { limit: 3 }).acquire();
      await expect(locks.semaphore('limits', { limit: 4 }).tryAcquire()).rejects.toSatisfy(
        LockLimitError.isInstance,
      );
      await held.release();

      const doc = locks.readWriteLock('doc');
      await doc.read.using(async () => {
        await expect(doc.write.acquire()).rejects.toSatisfy(LockUpgradeError.isInstance);
      });
      // Downgrade works, and readers of other clients share.
      const other = newLocks().readWriteLock('doc');
      await doc.write.using(async (_signal, write) => {
        expect(await other.read.tryAcquire()).toBeNull();
        await doc.read.using(async (_s, read) => {
          expect(read.fencingToken).toBe(write.fencingToken);
        });
      });
      const r1 = await doc.read.acquire();
      const r2 = await other.read.acquire();
      expect((await other.inspect()).readers).toHaveLength(2);
      await r1.release();
      await r2.release();
    });
  },
);
