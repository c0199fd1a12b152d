import { getEventListeners } from 'node:events';
import { setImmediate as realSetImmediate } from 'node:timers';
import { describe, expect, it, vi } from 'vitest';
import { createLockClient, LockClosedError, MemoryStore, memoryBackend } from '../src/index.js';
import { useFakeClock } from './fake-clock.js';
import { scriptedBackend } from './scripted-backend.js';

useFakeClock();

const N = 50_000;
/** A bound for tests that queue 50,000 waiters under fake timers on a shared machine. */
const BOUND_MS = 60_000;

/** A client with logged backend calls, and another client on the same store holding `k`. */
async function crowded() {
  const store = new MemoryStore();
  const scripted = scriptedBackend({ store, ordered: true });
  const client = createLockClient(scripted.backend, { ttlMs: 60_000 });
  const other = createLockClient(memoryBackend({ store }), { ttlMs: 60_000 });
  const holder = await other.acquire('k');
  const attempts = () => scripted.log.filter((line) => line === 'acquire k').length;
  return { client, other, holder, attempts };
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

describe(`${N.toLocaleString('en-US')} waiters on one key`, () => {
  it(
    'cost the backend what one waiter costs while queued, and one attempt each when their turn comes',
    async () => {
      const { client, other, holder, attempts } = await crowded();
      const order: number[] = [];
      const done = Array.from({ length: N }, (_, i) =>
        client.acquire('k').then((lock) => {
          order.push(i);
          return lock.release();
        }),
      );
      await vi.advanceTimersByTimeAsync(0);
      // The head's first attempt and its re-check once subscribed; nobody else asked.
      expect(attempts()).toBe(2);
      await holder.release();
      await Promise.all(done);
      expect(order).toEqual(Array.from({ length: N }, (_, i) => i));
      // Each waiter asked once, when its predecessor's release was sent: O(1) backend calls each.
      expect(attempts()).toBe(2 + N);
      await Promise.all([client.close(), other.close()]);
    },
    BOUND_MS,
  );

  it(
    'hand-offs that need no I/O still let the event loop turn between bursts',
    async () => {
      const { client, other, holder } = await crowded();
      let granted = 0;
      const grantedBeforeTurn: number[] = [];
      const done = Array.from({ length: 2_000 }, () =>
        client.acquire('k').then((lock) => {
          granted++;
          return lock.release();
        }),
      );
      await vi.advanceTimersByTimeAsync(0);
      // Each grant and release here completes in microtasks; without a yield all 2,000 would
      // run before the event loop reached its next phase (the watchdog's timers included).
      realSetImmediate(() => grantedBeforeTurn.push(granted));
      await holder.release();
      await Promise.all(done);
      expect(grantedBeforeTurn).toHaveLength(1);
      expect(grantedBeforeTurn[0]).toBeGreaterThan(0);
      expect(grantedBeforeTurn[0]).toBeLessThan(2_000);
      await Promise.all([client.close(), other.close()]);
    },
    BOUND_MS,
  );

  it(
    'an abort removes that one waiter and leaves the others in arrival order',
    async () => {
      const { client, other, holder } = await crowded();
      const order: number[] = [];
      const victims = new Map([0, 1, 24_999, 25_000, N - 1].map((i) => [i, new AbortController()]));
      const done = Array.from({ length: N }, (_, i) =>
        failure(
          client
            .acquire('k', victims.has(i) ? { signal: victims.get(i)!.signal } : undefined)
            .then((lock) => {
              order.push(i);
              return lock.release();
            }),
        ),
      );
      await vi.advanceTimersByTimeAsync(0);
      const reasons = new Map<number, Error>();
      for (const [i, controller] of victims) {
        const reason = new Error(`waiter ${i} gave up`);
        reasons.set(i, reason);
        controller.abort(reason);
      }
      for (const [i, reason] of reasons) expect(await done[i]).toBe(reason);
      await holder.release();
      await Promise.all(done);
      expect(order).toEqual(Array.from({ length: N }, (_, i) => i).filter((i) => !victims.has(i)));
      await Promise.all([client.close(), other.close()]);
    },
    BOUND_MS,
  );

  it(
    'add one abort listener to a signal they share, not one each, and all end on its abort',
    async () => {
      const { client, other, holder } = await crowded();
      const shared = new AbortController();
      const done = Array.from({ length: N }, () =>
        failure(client.acquire('k', { signal: shared.signal })),
      );
      await vi.advanceTimersByTimeAsync(0);
      expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
      const reason = new Error('everyone gave up');
      shared.abort(reason);
      const errors = await Promise.all(done);
      expect(errors.every((e) => e === reason)).toBe(true);
      expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
      // The queue is empty again: the next caller is first in line.
      await holder.release();
      await (await client.acquire('k', { waitTimeoutMs: 0 })).release();
      await Promise.all([client.close(), other.close()]);
    },
    BOUND_MS,
  );

  it(
    'close() rejects every pending waiter with LockClosedError and leaves no timer or listener',
    async () => {
      const { client, other, holder } = await crowded();
      const held2 = await other.acquire('j');
      const shared = new AbortController();
      const own = Array.from({ length: 100 }, () => new AbortController());
      const done = Array.from({ length: N }, (_, i) => {
        const key = i % 2 === 0 ? 'k' : 'j';
        const options =
          i % 5 === 0
            ? { waitTimeoutMs: 60_000 + i } // a deadline timer each
            : i % 5 === 1
              ? { signal: shared.signal }
              : i % 5 === 2 && i < own.length
                ? { signal: own[i]!.signal }
                : i % 5 === 3
                  ? { strategy: 'poll' as const }
                  : undefined;
        return failure(client.acquire(key, options));
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(vi.getTimerCount()).toBeGreaterThan(N / 5);
      await client.close();
      const errors = await Promise.all(done);
      expect(errors.filter((e) => LockClosedError.isInstance(e))).toHaveLength(N);
      expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
      for (const c of own) expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
      await holder.release();
      await held2.release();
      await other.close();
      expect(vi.getTimerCount()).toBe(0);
    },
    BOUND_MS,
  );
});
