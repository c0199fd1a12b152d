import {
  createLockClient,
  LockBackendError,
  type LockClient,
  LockClosedError,
  LockUnsupportedError,
  LockUpgradeError,
} from '@dlock/lock-core';
import { requireRedisBinaries } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PREFIX = 'shared-client:';

describe.skipIf(!binaries.available)(
  'redlock read-write locks and semaphores through the client',
  () => {
    let nodes: RedisNodes;
    const lockClients: LockClient[] = [];
    /** A lock client on connections of its own, like another process. */
    const newLocks = async (ttlMs = 30_000) => {
      const backend = redlockBackend({
        clients: await nodes.clients(),
        prefix: PREFIX,
        nodeTimeoutMs: 200,
      });
      const locks = createLockClient(backend, { ttlMs });
      lockClients.push(locks);
      return { locks, backend };
    };

    beforeAll(async () => {
      nodes = await startRedisNodes(5);
    });
    afterAll(async () => {
      await Promise.allSettled(lockClients.map((l) => l.close()));
      await nodes?.dispose();
    });

    it('readers share across clients, a writer excludes them; downgrade, upgrade, inspect', async () => {
      const { locks } = await newLocks();
      const other = (await newLocks()).locks.readWriteLock('doc');
      const doc = locks.readWriteLock('doc');
      await doc.read.using(async () => {
        const r2 = await other.read.acquire();
        expect((await other.inspect()).readers).toHaveLength(2);
        expect(await other.write.tryAcquire()).toBeNull();
        // Same async context: an upgrade, refused at once rather than waiting for itself.
        await expect(doc.write.acquire()).rejects.toSatisfy(LockUpgradeError.isInstance);
        await r2.release();
      });

      await doc.write.using(async (_signal, write) => {
        expect(await other.read.tryAcquire()).toBeNull();
        await doc.read.using(async (_s, read) => {
          expect(read.fencingToken).toBeGreaterThanOrEqual(write.fencingToken);
        });
      });
      const after = await other.read.acquire();
      await after.release();
      expect((await other.inspect()).readers).toHaveLength(0);
    });

    it('contending writers in 3 clients: one at a time, every write token larger (no livelock)', async () => {
      const clients = await Promise.all([newLocks(), newLocks(), newLocks()]);
      let inside = 0;
      let most = 0;
      const tokens: bigint[] = [];
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          clients[i % 3]!.locks.readWriteLock('contended').write.using(
            async (_signal, lock) => {
              inside++;
              most = Math.max(most, inside);
              tokens.push(lock.fencingToken);
              await new Promise((resolve) => setImmediate(resolve));
              inside--;
            },
            { waitTimeoutMs: 30_000 },
          ),
        ),
      );
      expect(most).toBe(1);
      expect(tokens).toHaveLength(12);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    });

    it('a waiting writer in another client is woken by the release message, not by its re-check', async () => {
      const a = (await newLocks()).locks;
      const { locks: b, backend } = await newLocks();
      // Count the writer's attempts: it asks once, subscribes, asks again, then sleeps until a
      // message or its re-check a third of its 30 s TTL later (past the wait's timeout).
      const shared = backend.shared!;
      const tryAcquire = shared.tryAcquire.bind(shared);
      let answered = 0;
      Object.assign(shared, {
        tryAcquire: (request: Parameters<typeof tryAcquire>[0]) =>
          tryAcquire(request).finally(() => answered++),
      });
      const reader = await a.readWriteLock('handoff').read.acquire();
      const waiting = b.readWriteLock('handoff').write.acquire({ waitTimeoutMs: 4_000 });
      await expect.poll(() => answered).toBe(2);
      // The queued writer stops new readers.
      expect(await a.readWriteLock('handoff').read.tryAcquire()).toBeNull();
      await reader.release();
      const write = await waiting;
      expect(answered).toBe(3);
      expect(write.fencingToken).toBeGreaterThanOrEqual(reader.fencingToken);
      await write.release();
    });

    it('a limit-1 semaphore behaves as the mutex; limit 2 is refused before any I/O, naming AB, BC, AC', async () => {
      const clients = await Promise.all([newLocks(), newLocks()]);
      let inside = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          clients[i % 2]!.locks.semaphore('one', { limit: 1 }).using(async () => {
            inside++;
            most = Math.max(most, inside);
            await new Promise((resolve) => setImmediate(resolve));
            inside--;
          }),
        ),
      );
      expect(most).toBe(1);
      const info = await clients[0]!.locks.semaphore('one', { limit: 1 }).inspect();
      expect(info).toMatchObject({ limit: 1, holders: [] });

      const { locks, backend } = await newLocks();
      let calls = 0;
      const shared = backend.shared!;
      const tryAcquire = shared.tryAcquire.bind(shared);
      Object.assign(shared, {
        tryAcquire: (request: Parameters<typeof tryAcquire>[0]) => {
          calls++;
          return tryAcquire(request);
        },
      });
      let error: unknown;
      try {
        await locks.semaphore('two', { limit: 2 }).acquire();
      } catch (e) {
        error = e;
      }
      expect(LockUnsupportedError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/AB, BC and AC/);
      expect(calls).toBe(0);
    });

    it('a closed client rejects with LockClosedError', async () => {
      const { locks } = await newLocks();
      const rw = locks.readWriteLock('closed');
      await locks.close();
      await expect(rw.read.acquire()).rejects.toSatisfy(LockClosedError.isInstance);
      expect(() => locks.semaphore('closed', { limit: 1 })).toThrow(LockClosedError);
    });
  },
);

describe.skipIf(!binaries.available)('redlock read-write locks with failing nodes', () => {
  let nodes: RedisNodes;
  let locks: LockClient;
  beforeAll(async () => {
    nodes = await startRedisNodes(5);
    locks = createLockClient(
      redlockBackend({ clients: await nodes.clients(), prefix: PREFIX, nodeTimeoutMs: 100 }),
      { ttlMs: 5_000 },
    );
  });
  afterAll(async () => {
    await locks?.close();
    await nodes?.dispose();
  });

  it('with 2 of 5 nodes stopped the read-write lock still works; with 3 stopped it fails with LockBackendError', async () => {
    await nodes.servers[0]!.stop();
    await nodes.servers[1]!.stop();
    const rw = locks.readWriteLock('degraded');
    await rw.write.using(
      async () => {
        await rw.read.using(async () => {
          expect((await rw.inspect()).readers).toHaveLength(1); // the downgrade
        });
        expect((await rw.inspect()).writer).toBeTruthy();
      },
      { waitTimeoutMs: 2_000 },
    );
    const reader = await rw.read.acquire();
    await reader.release();
    const sem = await locks.semaphore('degraded', { limit: 1 }).acquire();
    await sem.release();

    await nodes.servers[2]!.stop();
    await expect(rw.write.acquire({ waitTimeoutMs: 1_000 })).rejects.toSatisfy(
      LockBackendError.isInstance,
    );
    await expect(rw.read.tryAcquire()).rejects.toSatisfy(LockBackendError.isInstance);
  });
});
