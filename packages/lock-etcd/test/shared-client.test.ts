/**
 * Semaphores and read-write locks through the lock client on the real etcd, in this process and
 * across real child processes (test-utils' shared scenarios): at most N permit holders across
 * K processes, a SIGKILLed permit holder or reader lets go within its own TTL, and a writer is
 * served within one reader TTL under a stream of overlapping readers.
 */
import { fileURLToPath } from 'node:url';
import { createLockClient, type LockClient, LockUpgradeError } from '@dlock/lock-core';
import {
  describeSharedReport,
  type ManagedProcess,
  runPermitHistory,
  runPermitKill,
  runReaderKill,
  runWriterUnderReaders,
  waitUntil,
} from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

const TTL_MS = 2_000;

describe.skipIf(!etcd.available)('semaphores and read-write locks through the client', () => {
  const prefix = runPrefix('shared-client-etcd');
  const client = new Etcd3({ hosts: ETCD_URL });
  const workers: ManagedProcess[] = [];
  let locks: LockClient;
  const scenario = (key: string) => ({
    workerScript: fileURLToPath(new URL('./workers/shared-worker.ts', import.meta.url)),
    env: { ETCD_URL, LOCK_PREFIX: prefix },
    key,
    ttlMs: TTL_MS,
    contender: locks,
    // etcd checks for expired leases every 500 ms, on its own clock.
    slackMs: 1_500,
    track: workers,
  });

  beforeAll(() => {
    locks = createLockClient(etcdBackend({ client, prefix }), { ttlMs: TTL_MS });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await locks?.close();
    // Everything the run created goes once every client closed: the killed workers' keys with
    // their leases, within a TTL (and etcd's 500 ms expiry sweep).
    await waitUntil(async () => (await client.getAll().prefix(prefix).keys()).length === 0, {
      timeoutMs: TTL_MS + 3_000,
      message: 'every key of the run gone',
    });
    client.close();
  });

  it('semaphore: using, inspect, and a waiter served when a permit comes back', async () => {
    const semaphore = locks.semaphore('client-sem', { limit: 2 });
    const a = await semaphore.acquire();
    const b = await semaphore.acquire({ permits: 1 });
    expect(b.fencingToken).toBeGreaterThan(a.fencingToken);
    expect(await semaphore.tryAcquire()).toBeNull();
    const waiting = semaphore.acquire({ waitTimeoutMs: 10_000 });
    const state = await semaphore.inspect();
    expect(state).toMatchObject({ limit: 2, available: 0 });
    expect(state.holders).toHaveLength(2);
    await a.release();
    const c = await waiting;
    expect(c.fencingToken).toBeGreaterThan(b.fencingToken);
    await b.release();
    await c.release();
    expect((await semaphore.inspect()).holders).toEqual([]);
  });

  it('read-write: readers share, upgrade refused at once, downgrade allowed', async () => {
    const rw = locks.readWriteLock('client-rw');
    const other = createLockClient(etcdBackend({ client, prefix }), { ttlMs: TTL_MS });
    try {
      const reader = await other.readWriteLock('client-rw').read.acquire({ autoExtend: true });
      await rw.read.using(async () => {
        // The same async context holds the read lock: asking for write would wait for itself.
        await expect(rw.write.acquire({ waitTimeoutMs: 10_000 })).rejects.toSatisfy(
          LockUpgradeError.isInstance,
        );
        expect(await other.readWriteLock('client-rw').write.tryAcquire()).toBeNull();
      });
      await reader.release();
      await rw.write.using(async () => {
        // A write holder may take the read lock (downgrade), at once.
        const read = await rw.read.acquire({ waitTimeoutMs: 0 });
        expect((await rw.inspect()).readers).toHaveLength(1);
        await read.release();
      });
      expect(await rw.inspect()).toMatchObject({ writer: null, readers: [] });
    } finally {
      await other.close();
    }
  });

  it.each(['watch', 'poll'] as const)(
    'strategy %s: waiters keep their server queue entry, served FIFO; an aborted one leaves no key',
    async (strategy) => {
      const key = `client-${strategy}`;
      const keys = async () =>
        (await client.getAll().prefix(`${prefix}sem/${key}/`).keys()).map(String);
      const others = [0, 1, 2].map(() =>
        createLockClient(etcdBackend({ client, prefix }), { ttlMs: TTL_MS, strategy }),
      );
      try {
        const semaphore = (c: LockClient) => c.semaphore(key, { limit: 1 });
        const held = await semaphore(locks).acquire();
        const order: number[] = [];
        const waiting: Promise<void>[] = [];
        for (const [i, c] of others.slice(0, 2).entries()) {
          waiting.push(
            semaphore(c)
              .acquire({ waitTimeoutMs: 20_000 })
              .then(async (permit) => {
                order.push(i);
                await permit.release();
              }),
          );
          // One after another, so that their places in the queue are in this order.
          await waitUntil(async () => (await keys()).length === i + 2);
        }
        const controller = new AbortController();
        const aborted = semaphore(others[2]!).acquire({
          waitTimeoutMs: 20_000,
          signal: controller.signal,
        });
        await waitUntil(async () => (await keys()).length === 4);
        const reason = new Error('gave up');
        controller.abort(reason);
        await expect(aborted).rejects.toBe(reason);
        await waitUntil(async () => (await keys()).length === 3);
        await held.release();
        await Promise.all(waiting);
        expect(order).toEqual([0, 1]);
        expect(await keys()).toEqual([]);
      } finally {
        await Promise.all(others.map((c) => c.close()));
      }
    },
  );

  it('K processes against limit N: at most N hold at once, and N is reached', async () => {
    const report = await runPermitHistory({
      ...scenario('history'),
      limit: 2,
      processes: 4,
      rounds: 5,
      holdMs: 50,
    });
    expect(report.maxOverlap).toBe(2);
  }, 60_000);

  it('a SIGKILLed permit holder frees its permit within its TTL', async () => {
    const report = await runPermitKill(scenario('permit-kill'));
    console.log(describeSharedReport('etcd', 'permit kill', report));
  }, 60_000);

  it('a SIGKILLed reader stops blocking a writer after its own TTL while another renews', async () => {
    const report = await runReaderKill(scenario('reader-kill'));
    console.log(describeSharedReport('etcd', 'reader kill', report));
  }, 60_000);

  it('a queued writer is served within one reader TTL under a stream of readers', async () => {
    const report = await runWriterUnderReaders(scenario('writer-under-readers'));
    console.log(describeSharedReport('etcd', 'writer under readers', report));
  }, 60_000);
});
