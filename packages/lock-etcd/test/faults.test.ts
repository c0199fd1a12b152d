/**
 * Faults on the single node: a holder cut off from etcd by a TCP proxy (reset and silent
 * partition). Correctness bounds only: the lock passes on within its TTL, and a cut-off holder
 * learns of the loss (signal) before anyone else gets it. The SIGKILLed and SIGSTOPped holder
 * processes are in freeze-kill.test.ts.
 */
import { channels, createLockClient, type LockClient } from '@dlock/lock-core';
import { type CutMode, startTcpProxy, waitUntil } from '@dlock/test-utils';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdBackend } from '../src/index.js';
import { ETCD_HOST, ETCD_PORT, ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('faults', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('faults');
  const clients: LockClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    client.close();
  });
  const locks = (options: { sessionTtlMs?: number } = {}): LockClient => {
    const c = createLockClient(
      etcdBackend({ client, prefix, sessionTtlMs: options.sessionTtlMs ?? 10_000 }),
      { ttlMs: 3_000 },
    );
    clients.push(c);
    return c;
  };
  const queueLength = async (key: string) =>
    (await client.getAll().prefix(`${prefix}${key}/`).keys()).length;

  for (const mode of ['reset', 'blackhole'] as CutMode[]) {
    it(`a holder cut off from etcd (${mode}) learns it within the TTL, before anyone else gets the lock`, async () => {
      const key = `cut-${mode}`;
      const ttlMs = 3_000;
      const sessionTtlMs = 3_000;
      const proxy = await startTcpProxy({ target: { host: ETCD_HOST, port: ETCD_PORT } });
      const cutClient = new Etcd3({ hosts: `http://127.0.0.1:${proxy.port}` });
      const cutLocks = createLockClient(
        etcdBackend({ client: cutClient, prefix, sessionTtlMs, requestTimeoutMs: 1_000 }),
        { ttlMs },
      );
      try {
        const lock = await cutLocks.acquire(key, { autoExtend: true });
        let lostAt = Number.POSITIVE_INFINITY;
        lock.signal.addEventListener('abort', () => {
          lostAt = performance.now();
        });
        const other = locks();
        const waiting = other.acquire(key, { waitTimeoutMs: 60_000 }).then((l) => {
          return { lock: l, at: performance.now() };
        });
        await waitUntil(async () => (await queueLength(key)) === 2, { message: 'other queued' });
        const cutAt = performance.now();
        proxy.cut(mode);
        await waitUntil(() => lock.signal.aborted, {
          timeoutMs: ttlMs + 2_000,
          message: 'lock.signal aborted after the cut',
        });
        expect(lostAt - cutAt).toBeLessThanOrEqual(ttlMs + 500);
        const next = await waiting;
        // Safety: the cut-off holder stopped believing before the lock changed hands.
        expect(next.at).toBeGreaterThan(lostAt);
        expect(next.lock.fencingToken).toBeGreaterThan(lock.fencingToken);
        await next.lock.release();
      } finally {
        await cutLocks.close().catch(() => {});
        cutClient.close();
        await proxy.close();
      }
    });
  }

  it('reports the failing background keep-alive of a waiter on dlock:error with the operation', async () => {
    const key = 'cut-waiter';
    const holder = await locks().acquire(key, { autoExtend: true });
    const proxy = await startTcpProxy({ target: { host: ETCD_HOST, port: ETCD_PORT } });
    const cutClient = new Etcd3({ hosts: `http://127.0.0.1:${proxy.port}` });
    const cutLocks = createLockClient(
      etcdBackend({ client: cutClient, prefix, requestTimeoutMs: 500 }),
      { ttlMs: 3_000 },
    );
    const reports: { where: string; error: unknown }[] = [];
    const onReport = (message: unknown): void => {
      reports.push(message as { where: string; error: unknown });
    };
    channels.error.subscribe(onReport);
    const controller = new AbortController();
    try {
      const waiting = cutLocks.acquire(key, { signal: controller.signal }).catch((e: unknown) => e);
      await waitUntil(async () => (await queueLength(key)) === 2, { message: 'waiter queued' });
      proxy.cut('reset');
      // Its lease is renewed in the background every third of the TTL: that keep-alive now fails.
      await waitUntil(() => reports.some((r) => r.where === 'etcd waitAcquire'), {
        // A bound, not a pace: the keep-alive fails once gRPC gives up on the cut stream.
        timeoutMs: 25_000,
        message: 'the failed keep-alive reported',
      });
      expect(reports.find((r) => r.where === 'etcd waitAcquire')?.error).toBeInstanceOf(Error);
      controller.abort(new Error('done'));
      expect(await waiting).toBeInstanceOf(Error);
    } finally {
      channels.error.unsubscribe(onReport);
      await cutLocks.close();
      cutClient.close();
      await proxy.close();
      await holder.release();
    }
  }, 40_000);
});
