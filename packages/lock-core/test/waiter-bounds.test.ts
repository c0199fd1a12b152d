import { describe, expect, it, vi } from 'vitest';
import {
  createLockClient,
  LockArgumentError,
  type LockBackend,
  LockBackendError,
  LockClosedError,
  LockError,
  LockLostError,
  LockQueueFullError,
  LockTimeoutError,
  MemoryStore,
  memoryBackend,
} from '../src/index.js';
import { useFakeClock } from './fake-clock.js';
import { scriptedBackend } from './scripted-backend.js';

useFakeClock();

/** A client whose backend calls are logged, and another client on the same store holding `keys`. */
async function setup(options: Parameters<typeof createLockClient>[1], ...keys: string[]) {
  const store = new MemoryStore();
  const scripted = scriptedBackend({ store });
  const client = createLockClient(scripted.backend, { ttlMs: 60_000, ...options });
  const other = createLockClient(memoryBackend({ store }), { ttlMs: 60_000 });
  const held = await Promise.all(keys.map((key) => other.acquire(key)));
  const calls = () => scripted.log.length;
  const close = async () => {
    for (const lock of held) await lock.release();
    await Promise.all([client.close(), other.close()]);
  };
  return { client, other, held, calls, close };
}

/** Settles `promise` into its error, for assertions on what it rejected with. */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('maxWaitersPerKey', () => {
  it('refuses one waiter too many for a key at once, before any I/O, with LockQueueFullError', async () => {
    const { client, calls, close } = await setup({ maxWaitersPerKey: 2 }, 'k', 'j');
    const waiting = [failure(client.acquire('k')), failure(client.acquire('k'))];
    await vi.advanceTimersByTimeAsync(0);
    const before = calls();
    const error = await failure(client.acquire('k'));
    expect(LockQueueFullError.isInstance(error)).toBe(true);
    expect(error).toBeInstanceOf(LockError);
    expect(LockTimeoutError.isInstance(error)).toBe(false);
    expect(LockBackendError.isInstance(error)).toBe(false);
    expect(LockLostError.isInstance(error)).toBe(false);
    expect(error).toMatchObject({
      code: 'DLOCK_QUEUE_FULL',
      key: 'k',
      scope: 'key',
      maxWaiters: 2,
    });
    await expect(client.using('k', () => {})).rejects.toSatisfy(LockQueueFullError.isInstance);
    expect(calls()).toBe(before);
    // The bound is per key: another busy key still takes waiters, and tryAcquire never waits.
    const onJ = failure(client.acquire('j'));
    expect(await client.tryAcquire('k')).toBeNull();
    await close();
    for (const w of [...waiting, onJ]) expect(LockClosedError.isInstance(await w)).toBe(true);
  });

  it('counts a first attempt in flight, so the bound holds while the first caller asks', async () => {
    const { client, close } = await setup({ maxWaitersPerKey: 1 }, 'k');
    const first = failure(client.acquire('k')); // asking: nobody else may line up behind it
    await expect(client.acquire('k')).rejects.toSatisfy(LockQueueFullError.isInstance);
    await vi.advanceTimersByTimeAsync(0);
    await expect(client.acquire('k')).rejects.toSatisfy(LockQueueFullError.isInstance);
    await close();
    expect(LockClosedError.isInstance(await first)).toBe(true);
  });

  it('frees a slot when a waiter times out, is aborted, or is granted', async () => {
    const { client, held, close } = await setup({ maxWaitersPerKey: 1 }, 'k');
    const full = () => expect(client.acquire('k')).rejects.toSatisfy(LockQueueFullError.isInstance);

    const timing = failure(client.acquire('k', { waitTimeoutMs: 1_000 }));
    await vi.advanceTimersByTimeAsync(0);
    await full();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(LockTimeoutError.isInstance(await timing)).toBe(true);

    const controller = new AbortController();
    const aborting = client.acquire('k', { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(0);
    await full();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(aborting).rejects.toBe(reason);

    const granting = client.acquire('k');
    await vi.advanceTimersByTimeAsync(0);
    await full();
    await held[0]!.release();
    const lock = await granting;
    // Granted: it holds the key and no longer waits, so one more may wait (for it).
    const next = client.acquire('k');
    await vi.advanceTimersByTimeAsync(0);
    await full();
    await lock.release();
    await (await next).release();
    held.length = 0;
    await close();
  });

  it('can be set per call, overriding the client', async () => {
    const { client, close } = await setup({ maxWaitersPerKey: 100 }, 'k');
    const waiting = failure(client.acquire('k'));
    await vi.advanceTimersByTimeAsync(0);
    const error = await failure(client.acquire('k', { maxWaitersPerKey: 1 }));
    expect(error).toMatchObject({ code: 'DLOCK_QUEUE_FULL', scope: 'key', maxWaiters: 1 });
    const second = failure(client.acquire('k', { maxWaitersPerKey: 2 }));
    await vi.advanceTimersByTimeAsync(0);
    await close();
    expect(LockClosedError.isInstance(await waiting)).toBe(true);
    expect(LockClosedError.isInstance(await second)).toBe(true);
  });

  it('bounds native waits too, which wait on the server rather than in the local queue', async () => {
    const inner = memoryBackend();
    const pending: { signal: AbortSignal }[] = [];
    const native: LockBackend = {
      ...inner,
      capabilities: { ...inner.capabilities, nativeWait: true },
      // A server-side wait that ends only when the core aborts it.
      waitAcquire: (r) =>
        new Promise((_, reject) => {
          pending.push(r);
          r.signal.addEventListener('abort', () => reject(r.signal.reason), { once: true });
        }),
    };
    const client = createLockClient(native, { maxWaitersPerKey: 1 });
    const controller = new AbortController();
    const first = client.acquire('k', { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(0);
    expect(pending).toHaveLength(1);
    await expect(client.acquire('k')).rejects.toSatisfy(LockQueueFullError.isInstance);
    expect(pending).toHaveLength(1);
    controller.abort(new Error('gave up'));
    await expect(first).rejects.toThrow('gave up');
    const second = failure(client.acquire('k'));
    await vi.advanceTimersByTimeAsync(0);
    expect(pending).toHaveLength(2);
    await client.close();
    expect(LockClosedError.isInstance(await second)).toBe(true);
  });
});

describe('maxWaiters (per client)', () => {
  it('refuses a waiter that would queue behind others once the client has maxWaiters, before I/O', async () => {
    const { client, calls, close } = await setup({ maxWaiters: 2 }, 'a', 'b');
    const waiting = [failure(client.acquire('a')), failure(client.acquire('b'))];
    await vi.advanceTimersByTimeAsync(0);
    const before = calls();
    const error = await failure(client.acquire('a'));
    expect(error).toMatchObject({
      code: 'DLOCK_QUEUE_FULL',
      key: 'a',
      scope: 'client',
      maxWaiters: 2,
    });
    expect(calls()).toBe(before);
    await close();
    for (const w of waiting) expect(LockClosedError.isInstance(await w)).toBe(true);
  });

  it('lets a call on a key nobody waits for try once: granted if free, refused if busy', async () => {
    const { client, calls, close } = await setup({ maxWaiters: 1 }, 'a', 'b');
    const waiting = failure(client.acquire('a'));
    await vi.advanceTimersByTimeAsync(0);
    const free = await client.acquire('free');
    expect(free.held).toBe(true);
    await free.release();
    const before = calls();
    const error = await failure(client.acquire('b'));
    expect(error).toMatchObject({ code: 'DLOCK_QUEUE_FULL', scope: 'client' });
    expect(calls()).toBe(before + 1); // the one refused attempt
    await close();
    expect(LockClosedError.isInstance(await waiting)).toBe(true);
  });

  it('frees a slot when a waiter leaves', async () => {
    const { client, held, close } = await setup({ maxWaiters: 1 }, 'a', 'b');
    const controller = new AbortController();
    const waiting = client.acquire('a', { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(0);
    await expect(client.acquire('b')).rejects.toSatisfy(LockQueueFullError.isInstance);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    const onB = client.acquire('b');
    await vi.advanceTimersByTimeAsync(0);
    await held[1]!.release();
    await (await onB).release();
    held.splice(1, 1);
    await close();
  });
});

describe('waiter bound options', () => {
  it('accept positive integers and Infinity, and refuse anything else with LockArgumentError', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '3', null]) {
      expect(() => createLockClient(memoryBackend(), { maxWaiters: bad as number })).toThrow(
        LockArgumentError,
      );
      expect(() => createLockClient(memoryBackend(), { maxWaitersPerKey: bad as number })).toThrow(
        /maxWaitersPerKey must be a positive integer or Infinity/,
      );
    }
    const client = createLockClient(memoryBackend(), {
      maxWaiters: Number.POSITIVE_INFINITY,
      maxWaitersPerKey: 1,
    });
    await expect(client.acquire('k', { maxWaitersPerKey: 0 })).rejects.toSatisfy(
      LockArgumentError.isInstance,
    );
    // tryAcquire never waits: a bound makes no sense there and is an unknown option.
    await expect(
      client.tryAcquire('k', { maxWaitersPerKey: 1 } as Record<string, unknown>),
    ).rejects.toSatisfy(LockArgumentError.isInstance);
    await (await client.acquire('k', { maxWaitersPerKey: 3 })).release();
    await client.close();
  });
});
