import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient, type LockBackend } from '@dlock/lock-core';
import { runBackendSpiSuite } from '@dlock/lock-core/testing';
import { waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface SpiSuiteContext {
  /** A new backend instance on the same server state (like another process). */
  createBackend(): LockBackend;
}

const owner = () => randomBytes(16).toString('hex');
let counter = 0;
const freshKey = (label: string) =>
  `spi:${label}:${++counter}:${Math.random().toString(36).slice(2)}`;

/** Keys that look like Lua or Redis syntax, break hash tags, or are not ASCII. */
export const NASTY_KEYS = [
  "]] redis.call('FLUSHALL') --[[",
  "'); redis.call('DEL', KEYS[1]); --",
  'KEYS[1]',
  'ARGV[2] .. "',
  '{',
  '}',
  '{}',
  '{tag}',
  '}{',
  'a}b{c}d',
  '{user:1}:orders',
  '*',
  '?[a-z]',
  '\\"\'`',
  'new\nline\ttab',
  'nul\u0000byte',
  '🔒🚀 emoji ключ 鍵',
  'SET x y\r\nFLUSHALL\r\n',
];

/**
 * The backend-neutral SPI suite from `@dlock/lock-core/testing`, plus what only Redis promises: a
 * release nobody was refused by publishes nothing, and the subscriber's handshake.
 */
export function describeBackendSpi(name: string, context: () => SpiSuiteContext): void {
  runBackendSpiSuite({
    name: `redis ${name}`,
    createBackend: () => context().createBackend(),
    runner: { describe, it, beforeAll, afterAll },
    keys: NASTY_KEYS,
  });

  describe(`${name}: Redis-specific SPI behaviour`, () => {
    const backends: LockBackend[] = [];
    const backend = () => {
      const b = context().createBackend();
      backends.push(b);
      return b;
    };
    afterAll(async () => {
      await Promise.all(backends.map((b) => b.close()));
    });

    it('watches issued while the subscriber connection is still handshaking all succeed', async () => {
      // Regression: a SUBSCRIBE written during the handshake broke ioredis' ready check.
      for (let round = 0; round < 5; round++) {
        const b = backend();
        const watches: Promise<unknown>[] = [];
        for (let i = 0; i < 30; i++) {
          watches.push(b.watch!(freshKey(`handshake${i}`), () => {}));
          await new Promise((resolve) => setImmediate(resolve));
        }
        const failed = (await Promise.allSettled(watches)).filter((r) => r.status === 'rejected');
        expect(failed.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
        await b.close();
      }
    });

    it('watch fires for a release someone was refused by, never for an uncontended one, until closed', async () => {
      const watcher = backend();
      const holder = backend();
      const key = freshKey('watch');
      const a = owner();
      const w = owner();
      await holder.tryAcquire({ key, owner: a, ttlMs: 10_000 });
      let calls = 0;
      const handle = await watcher.watch!(key, () => {
        calls++;
      });
      // Refused while held: the waiter flag makes the release publish.
      expect((await watcher.tryAcquire({ key, owner: w, ttlMs: 10_000 })).acquired).toBe(false);
      expect(await holder.release({ key, owner: a })).toBe('released');
      await waitUntil(() => calls === 1, { timeoutMs: 2_000, message: 'release event' });
      // Uncontended (the holder's own client watches nothing): no message. A marker key's event,
      // published later on the same connection and heard on the same subscriber, arrives after
      // any message for this release would have (on a Cluster, when the marker shares a node).
      await holder.tryAcquire({ key, owner: a, ttlMs: 10_000 });
      expect(await holder.release({ key, owner: a })).toBe('released');
      const marker = freshKey('watch-marker');
      let marked = 0;
      const markerHandle = await watcher.watch!(marker, () => marked++);
      await holder.tryAcquire({ key: marker, owner: a, ttlMs: 10_000 });
      await watcher.tryAcquire({ key: marker, owner: w, ttlMs: 10_000 });
      await holder.release({ key: marker, owner: a });
      await waitUntil(() => marked === 1, { timeoutMs: 2_000, message: 'marker event' });
      expect(calls).toBe(1);
      await markerHandle.close();
      // Refused again: the next release is announced again.
      await holder.tryAcquire({ key, owner: a, ttlMs: 10_000 });
      expect((await watcher.tryAcquire({ key, owner: w, ttlMs: 10_000 })).acquired).toBe(false);
      expect(await holder.release({ key, owner: a })).toBe('released');
      await waitUntil(() => calls === 2, { timeoutMs: 2_000, message: 'second release event' });
      await handle.close();
      await handle.close(); // idempotent
      await holder.tryAcquire({ key, owner: a, ttlMs: 10_000 });
      expect((await watcher.tryAcquire({ key, owner: w, ttlMs: 10_000 })).acquired).toBe(false);
      await holder.release({ key, owner: a });
      await sleep(50);
      expect(calls).toBe(2);
    });

    it('serves createLockClient: a waiter wakes on the release event, not on the safety re-check', async () => {
      // The holder's lease is far longer than the waiter's deadline: only the release event can
      // grant the waiter in time (the safety re-check would come after its deadline).
      const holderClient = createLockClient(backend(), { ttlMs: 60_000 });
      const waiterClient = createLockClient(backend(), { ttlMs: 10_000 });
      try {
        const key = freshKey('client');
        const held = await holderClient.acquire(key);
        const waiting = waiterClient.acquire(key, { waitTimeoutMs: 5_000, strategy: 'watch' });
        await sleep(50);
        expect(await held.release()).toBe(true);
        const next = await waiting;
        expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
        expect(await next.release()).toBe(true);
      } finally {
        await holderClient.close();
        await waiterClient.close();
      }
    });
  });
}
