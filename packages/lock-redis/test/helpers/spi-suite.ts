import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient, type LockBackend } from '@dlock/lock-core';
import { waitUntil } from '@dlock/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

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

/** The SPI contract checked directly against a Redis backend (before and beside the kit). */
export function describeBackendSpi(name: string, context: () => SpiSuiteContext): void {
  describe(`${name}: backend SPI`, () => {
    const backends: LockBackend[] = [];
    const backend = () => {
      const b = context().createBackend();
      backends.push(b);
      return b;
    };
    afterAll(async () => {
      await Promise.all(backends.map((b) => b.close()));
    });

    it('grants, refuses another owner with the remaining TTL, and re-enters with the same token', async () => {
      const b = backend();
      const key = freshKey('grant');
      const a = owner();
      const first = await b.tryAcquire({ key, owner: a, ttlMs: 10_000 });
      expect(first).toMatchObject({ acquired: true, reentered: false, ttlMs: 10_000 });
      const refused = await backend().tryAcquire({ key, owner: owner(), ttlMs: 10_000 });
      expect(refused.acquired).toBe(false);
      if (refused.acquired) throw new Error('unreachable');
      expect(refused.retryAfterMs).toBeGreaterThan(9_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);

      // Re-entry with a shorter TTL never shortens the lease, and keeps the grant's token.
      const again = await b.tryAcquire({ key, owner: a, ttlMs: 1_000 });
      if (!first.acquired || !again.acquired) throw new Error('expected grants');
      expect(again.reentered).toBe(true);
      expect(again.fencingToken).toBe(first.fencingToken);
      expect(again.ttlMs).toBeGreaterThan(9_000);
      // ...and a longer one lengthens it.
      const longer = await b.tryAcquire({ key, owner: a, ttlMs: 60_000 });
      expect(longer).toMatchObject({ acquired: true, reentered: true, ttlMs: 60_000 });

      const state = await b.inspect(key);
      expect(state).toMatchObject({ key, owner: a, count: 3, fencingToken: first.fencingToken });
      expect(state!.ttlMs).toBeGreaterThan(59_000);

      expect(await b.release({ key, owner: a })).toBe('decremented');
      expect(await b.release({ key, owner: a })).toBe('decremented');
      expect(await b.release({ key, owner: a })).toBe('released');
      expect(await b.release({ key, owner: a })).toBe('not-held');
      expect(await b.inspect(key)).toBeNull();
    });

    it('only the owner releases or extends; a foreign release changes nothing', async () => {
      const b = backend();
      const key = freshKey('owner');
      const a = owner();
      await b.tryAcquire({ key, owner: a, ttlMs: 10_000 });
      expect(await b.release({ key, owner: owner() })).toBe('not-held');
      expect(await b.extend({ key, owner: owner(), ttlMs: 20_000 })).toBe(false);
      expect((await b.inspect(key))?.owner).toBe(a);
      expect(await b.extend({ key, owner: a, ttlMs: 20_000 })).toBe(true);
      expect((await b.inspect(key))!.ttlMs).toBeGreaterThan(19_000);
      expect(await b.release({ key, owner: a })).toBe('released');
    });

    it('expires on the server clock and never re-creates an expired lock on extend', async () => {
      const b = backend();
      const key = freshKey('expiry');
      const a = owner();
      const first = await b.tryAcquire({ key, owner: a, ttlMs: 40 });
      await sleep(60);
      expect(await b.inspect(key)).toBeNull();
      expect(await b.extend({ key, owner: a, ttlMs: 10_000 })).toBe(false);
      expect(await b.inspect(key)).toBeNull();
      const second = await backend().tryAcquire({ key, owner: owner(), ttlMs: 10_000 });
      if (!first.acquired || !second.acquired) throw new Error('expected grants');
      expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
      expect(await b.release({ key, owner: a })).toBe('not-held');
    });

    it('fencing tokens strictly increase across grants and backend instances', async () => {
      const key = freshKey('fence');
      let last = 0n;
      for (let i = 0; i < 10; i++) {
        const b = backend();
        const o = owner();
        const grant = await b.tryAcquire({ key, owner: o, ttlMs: 10_000 });
        if (!grant.acquired) throw new Error('expected a grant');
        expect(grant.fencingToken).toBeGreaterThan(last);
        last = grant.fencingToken;
        expect(await b.release({ key, owner: o })).toBe('released');
      }
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

    it('extendMany renews many locks in one batch, one answer per request in order', async () => {
      const b = backend();
      const a = owner();
      const keys = Array.from({ length: 20 }, (_, i) => freshKey(`many${i}`));
      for (const key of keys.slice(0, 15)) await b.tryAcquire({ key, owner: a, ttlMs: 5_000 });
      const results = await b.extendMany!(keys.map((key) => ({ key, owner: a, ttlMs: 30_000 })));
      expect(results).toEqual(keys.map((_, i) => i < 15));
      expect((await b.inspect(keys[0]!))!.ttlMs).toBeGreaterThan(29_000);
      expect(await b.extendMany!([])).toEqual([]);
      for (const key of keys.slice(0, 15)) await b.release({ key, owner: a });
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

    it('forceRelease deletes any holder, wakes watchers, and keeps fencing monotonic', async () => {
      const b = backend();
      const operator = backend();
      const key = freshKey('force');
      const a = owner();
      const first = await b.tryAcquire({ key, owner: a, ttlMs: 10_000 });
      await b.tryAcquire({ key, owner: a, ttlMs: 10_000 }); // re-entered: count 2
      let woken = 0;
      const handle = await operator.watch!(key, () => woken++);
      expect(await operator.forceRelease!(key)).toBe(true);
      expect(await operator.forceRelease!(key)).toBe(false);
      await waitUntil(() => woken > 0, { timeoutMs: 2_000, message: 'release event' });
      await handle.close();
      expect(await b.inspect(key)).toBeNull();
      // The evicted holder finds out at its next owner-checked call.
      expect(await b.extend({ key, owner: a, ttlMs: 10_000 })).toBe(false);
      expect(await b.release({ key, owner: a })).toBe('not-held');
      const next = await backend().tryAcquire({ key, owner: owner(), ttlMs: 10_000 });
      if (!first.acquired || !next.acquired) throw new Error('expected grants');
      expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
    });

    it('handles keys that look like Lua or Redis syntax, braces and emoji as plain data', async () => {
      const b = backend();
      const other = backend();
      const a = owner();
      const suffix = Math.random().toString(36).slice(2);
      const keys = NASTY_KEYS.map((k) => `${k}${suffix}`);
      for (const key of keys) {
        const grant = await b.tryAcquire({ key, owner: a, ttlMs: 10_000 });
        expect(grant.acquired, JSON.stringify(key)).toBe(true);
      }
      // Each key is its own lock: all held by a, none grantable to anybody else.
      for (const key of keys) {
        expect((await other.tryAcquire({ key, owner: owner(), ttlMs: 10_000 })).acquired).toBe(
          false,
        );
        expect(await other.inspect(key)).toMatchObject({ key, owner: a, count: 1 });
      }
      // Braces in keys must not merge locks: '{tag}x' and '{tag}y' are different locks.
      const x = await b.tryAcquire({ key: `{same}x${suffix}`, owner: a, ttlMs: 10_000 });
      const y = await other.tryAcquire({ key: `{same}y${suffix}`, owner: owner(), ttlMs: 10_000 });
      expect(x.acquired && y.acquired).toBe(true);
      for (const key of keys) expect(await b.release({ key, owner: a })).toBe('released');
    });

    it('owner tokens that look like syntax are data too', async () => {
      const b = backend();
      const key = freshKey('owner-syntax');
      const weird = "x', ARGV[1]) redis.call('DEL', KEYS[1]) --🔒";
      expect((await b.tryAcquire({ key, owner: weird, ttlMs: 10_000 })).acquired).toBe(true);
      expect((await b.inspect(key))?.owner).toBe(weird);
      expect(await b.release({ key, owner: weird })).toBe('released');
    });

    it('serves createLockClient: a waiter wakes on the release event, not on the safety re-check', async () => {
      const holderClient = createLockClient(backend(), { ttlMs: 10_000 });
      const waiterClient = createLockClient(backend(), { ttlMs: 10_000 });
      try {
        const key = freshKey('client');
        const held = await holderClient.acquire(key);
        const started = performance.now();
        const waiting = waiterClient.acquire(key, { waitTimeoutMs: 5_000, strategy: 'watch' });
        await sleep(50);
        expect(await held.release()).toBe(true);
        const next = await waiting;
        // The holder's lease had ~10 s left: only the pub/sub event explains a fast wake-up.
        expect(performance.now() - started).toBeLessThan(2_000);
        expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
        expect(await next.release()).toBe(true);
      } finally {
        await holderClient.close();
        await waiterClient.close();
      }
    });
  });
}
