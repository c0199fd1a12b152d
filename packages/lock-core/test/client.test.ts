import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  channels,
  createLockClient,
  type LockBackend,
  LockBackendError,
  LockError,
  LockTimeoutError,
  LockUnsupportedError,
  MemoryStore,
  memoryBackend,
} from '../src/index.js';
import type { AcquireResult } from '../src/spi.js';
import { scriptedBackend } from './scripted-backend.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('createLockClient', () => {
  it('turns driver failures into LockBackendError, distinct from a timeout', async () => {
    const { backend, faults } = scriptedBackend();
    const client = createLockClient(backend);
    faults.acquire = 'throw';
    const error = await client.acquire('k').catch((e: unknown) => e);
    expect(LockBackendError.isInstance(error)).toBe(true);
    expect(LockTimeoutError.isInstance(error)).toBe(false);
    expect((error as LockBackendError).cause).toBeInstanceOf(Error);
    expect((error as LockBackendError).key).toBe('k');
    await expect(client.tryAcquire('k')).rejects.toSatisfy(LockBackendError.isInstance);
    await client.close();
  });

  it('wraps a backend that throws synchronously', async () => {
    const backend = memoryBackend();
    const broken: LockBackend = {
      ...backend,
      tryAcquire: () => {
        throw new TypeError('sync boom');
      },
    };
    const client = createLockClient(broken);
    await expect(client.acquire('k')).rejects.toSatisfy(LockBackendError.isInstance);
    await client.close();
  });

  it('rejects something that is not a backend', () => {
    expect(() => createLockClient({} as LockBackend)).toThrow(/LockBackend/);
    expect(() =>
      createLockClient({ ...memoryBackend(), release: undefined } as unknown as LockBackend),
    ).toThrow(/release/);
  });

  it('lets the routine error win over a failing release in using()', async () => {
    const inner = memoryBackend();
    const backend: LockBackend = {
      ...inner,
      release: () => Promise.reject(new Error('release failed')),
    };
    const client = createLockClient(backend);
    const routineError = new Error('routine failed');
    await expect(
      client.using('k', () => {
        throw routineError;
      }),
    ).rejects.toBe(routineError);
    await expect(client.using('k2', async () => 'done')).rejects.toSatisfy(
      LockBackendError.isInstance,
    );
    await client.close();
  });

  it('returns the routine result from using() and releases', async () => {
    const client = createLockClient(memoryBackend());
    expect(await client.using('k', async (signal, lock) => `${lock.key}:${signal.aborted}`)).toBe(
      'k:false',
    );
    expect(await client.inspect('k')).toBeNull();
    await client.close();
  });

  it('releases on await using', async () => {
    const client = createLockClient(memoryBackend());
    {
      await using lock = await client.acquire('k');
      expect(lock.held).toBe(true);
      expect(await client.inspect('k')).not.toBeNull();
    }
    expect(await client.inspect('k')).toBeNull();
    await client[Symbol.asyncDispose]();
  });

  it('hands back a grant that arrives after the caller aborted', async () => {
    const store = new MemoryStore();
    const inner = memoryBackend({ store });
    let grant!: () => void;
    const slow: LockBackend = {
      ...inner,
      tryAcquire: (r) =>
        new Promise<AcquireResult>((resolve) => (grant = () => resolve(inner.tryAcquire(r)))),
    };
    const client = createLockClient(slow);
    const controller = new AbortController();
    const pending = client.acquire('k', { signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
    grant();
    await vi.waitFor(async () => expect(await inner.inspect('k')).toBeNull());
    await client.close();
  });

  it('uses the backend native wait when it has one, passing the deadline and a signal', async () => {
    const store = new MemoryStore();
    const inner = memoryBackend({ store });
    const waits: { timeoutMs: number; signal: AbortSignal }[] = [];
    const native: LockBackend = {
      ...inner,
      capabilities: { ...inner.capabilities, nativeWait: true },
      waitAcquire: async (r) => {
        waits.push(r);
        return { acquired: false };
      },
    };
    const client = createLockClient(native);
    const holder = createLockClient(memoryBackend({ store }));
    const held = await holder.acquire('k');
    await expect(client.acquire('k', { waitTimeoutMs: 5_000 })).rejects.toSatisfy(
      LockTimeoutError.isInstance,
    );
    expect(waits).toHaveLength(1);
    expect(waits[0]!.timeoutMs).toBeGreaterThan(4_900);
    expect(waits[0]!.timeoutMs).toBeLessThanOrEqual(5_000);
    await held.release();
    await Promise.all([client.close(), holder.close()]);
  });

  it('wakes a polling waiter at once when a lock of the same client is released', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const client = createLockClient(memoryBackend(), {
      strategy: 'poll',
      poll: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const held = await client.acquire('k', { ttlMs: 600_000 });
    let got = false;
    const waiting = client.acquire('k').then((lock) => {
      got = true;
      return lock;
    });
    await vi.advanceTimersByTimeAsync(0);
    await held.release();
    await vi.advanceTimersByTimeAsync(1);
    expect(got).toBe(true);
    await (await waiting).release();
    await client.close();
  });

  it('catches a throwing onLost and publishes it on dlock:error', async () => {
    const errors: unknown[] = [];
    const listener = (message: unknown) => errors.push(message);
    subscribe('dlock:error', listener);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const client = createLockClient(memoryBackend(), {
      ttlMs: 100,
      onLost: () => {
        throw new Error('bad callback');
      },
    });
    const lock = await client.acquire('k');
    await vi.advanceTimersByTimeAsync(101);
    expect(lock.signal.aborted).toBe(true);
    expect(errors).toHaveLength(1);
    unsubscribe('dlock:error', listener);
    await client.close();
  });

  it('publishes a failed best-effort release on dlock:error, and the callback error still wins', async () => {
    const errors: Array<{ where: string; key?: string; error: unknown }> = [];
    const listener = (message: unknown) => errors.push(message as (typeof errors)[number]);
    subscribe('dlock:error', listener);
    const memory = memoryBackend();
    const backend: LockBackend = {
      ...memory,
      release: () => Promise.reject(new Error('release refused')),
    };
    const client = createLockClient(backend, { ttlMs: 1_000 });
    await expect(
      client.using('k', async () => {
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    unsubscribe('dlock:error', listener);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ where: 'using: release after the callback threw', key: 'k' });
    expect(LockBackendError.isInstance(errors[0]!.error)).toBe(true);
    await client.close();
    await memory.close();
  });

  it('publishes acquire, extend and release events with timings', async () => {
    const seen: string[] = [];
    const names = ['acquireStart', 'acquireEnd', 'extend', 'release'] as const;
    const listeners = names.map((name) => {
      const listener = (message: unknown) =>
        seen.push(`${name}:${(message as { key: string }).key}`);
      channels[name].subscribe(listener);
      return [name, listener] as const;
    });
    const client = createLockClient(memoryBackend());
    const lock = await client.acquire('k');
    await lock.extend();
    await lock.release();
    for (const [name, listener] of listeners) channels[name].unsubscribe(listener);
    expect(seen).toEqual(['acquireStart:k', 'acquireEnd:k', 'extend:k', 'release:k']);
    await client.close();
  });

  it('releases every hold of a re-entered lock on close()', async () => {
    const store = new MemoryStore();
    const client = createLockClient(memoryBackend({ store }));
    let inner: unknown;
    const outer = client.using('k', async () => {
      inner = await client.acquire('k');
      await new Promise(() => {}); // never finishes: the client is closed under it
    });
    await vi.waitFor(() => expect(inner).toBeDefined());
    expect(store.get('k')?.count).toBe(2);
    await client.close();
    expect(store.get('k')).toBeUndefined();
    void outer;
  });
});

describe('errors', () => {
  it('recognises errors from another copy of the package by brand and code', () => {
    const foreign = Object.assign(new Error('from another copy'), { code: 'DLOCK_TIMEOUT' });
    Object.defineProperty(foreign, Symbol.for('@dlock/lock-core/error'), { value: true });
    expect(LockError.isInstance(foreign)).toBe(true);
    expect(LockTimeoutError.isInstance(foreign)).toBe(true);
    expect(LockBackendError.isInstance(foreign)).toBe(false);
    expect(LockError.isInstance(new Error('plain'))).toBe(false);
    expect(LockError.isInstance(null)).toBe(false);
    const timeout = new LockTimeoutError('k', 5);
    expect(timeout).toBeInstanceOf(LockError);
    expect(timeout.name).toBe('LockTimeoutError');
    expect(timeout.code).toBe('DLOCK_TIMEOUT');
    expect(timeout.waitTimeoutMs).toBe(5);
  });
});

describe('forceRelease', () => {
  it('deletes a lock whoever holds it, keeps fencing monotonic, and the holder learns at renewal', async () => {
    const store = new MemoryStore();
    const holder = createLockClient(memoryBackend({ store }), { ttlMs: 200 });
    const operator = createLockClient(memoryBackend({ store }));
    const lock = await holder.acquire('k', { autoExtend: true });
    expect(await operator.forceRelease('k')).toBe(true);
    expect(await operator.forceRelease('k')).toBe(false);
    const next = await operator.acquire('k');
    expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
    await vi.waitFor(() => expect(lock.signal.aborted).toBe(true));
    await next.release();
    await Promise.all([holder.close(), operator.close()]);
  });

  it('is refused with LockUnsupportedError where the backend cannot do it', async () => {
    const { forceRelease: _, ...inner } = memoryBackend();
    const client = createLockClient(inner as LockBackend);
    await expect(client.forceRelease('k')).rejects.toSatisfy(LockUnsupportedError.isInstance);
    await client.close();
  });
});

describe('local FIFO', () => {
  it('keeps arrival order even when the backend answers first attempts out of order', async () => {
    const inner = memoryBackend();
    let delay = 12;
    const jittery: LockBackend = {
      ...inner,
      // Later calls answer sooner: without a queue place fixed at call time, order would invert.
      tryAcquire: async (r) => {
        const wait = Math.max(0, delay--);
        await new Promise((resolve) => setTimeout(resolve, wait));
        return inner.tryAcquire(r);
      },
    };
    const client = createLockClient(jittery, { ttlMs: 10_000 });
    const holder = await client.acquire('k', { owner: 'holder' });
    const order: number[] = [];
    const waiters = Array.from({ length: 8 }, (_, i) =>
      client.using('k', async () => {
        order.push(i);
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    await holder.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await client.close();
  });
});

describe('watch subscription', () => {
  it('asks again once a slow subscription is live, so a release during it is not missed', async () => {
    const inner = memoryBackend();
    const slowWatch: LockBackend = {
      ...inner,
      // Events published before the subscription exists are lost, as with Redis pub/sub.
      watch: async (key, onRelease) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return inner.watch!(key, onRelease);
      },
    };
    // A stall would last the full TTL (a minute): the test's own timeout catches it.
    const client = createLockClient(slowWatch, { ttlMs: 60_000, strategy: 'watch' });
    let sections = 0;
    await Promise.all(
      [0, 1].map(async () => {
        for (let i = 0; i < 5; i++) {
          await client.using('k', async () => {
            await new Promise((resolve) => setTimeout(resolve, 1));
            sections++;
          });
        }
      }),
    );
    expect(sections).toBe(10);
    await client.close();
  }, 5_000);
});
