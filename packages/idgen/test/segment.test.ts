import { describe, expect, it } from 'vitest';
import {
  createSegmentGenerator,
  IdGenArgumentError,
  IdGenBackendError,
  IdGenClosedError,
  IdOverflowError,
} from '../src/index.js';

/** An in-memory store whose reservations resolve when the test says so. */
function manualStore() {
  let max = 0n;
  const calls: { step: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  const source = (step: number) =>
    new Promise<bigint>((resolve, reject) => {
      calls.push({
        step,
        resolve: () => {
          max += BigInt(step);
          resolve(max);
        },
        reject,
      });
    });
  return { source, calls };
}

/** An in-memory store that answers at once. */
function instantStore(fail?: (call: number) => boolean) {
  let max = 0n;
  let call = 0;
  const steps: number[] = [];
  const source = async (step: number) => {
    call++;
    if (fail?.(call)) throw new Error(`store down (call ${call})`);
    steps.push(step);
    max += BigInt(step);
    return max;
  };
  return { source, steps };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('createSegmentGenerator', () => {
  it('hands out consecutive ids and prefetches the next segment at 10% use', async () => {
    const store = manualStore();
    const gen = createSegmentGenerator({ source: store.source, step: 100, adaptive: false });
    const first = gen.nextId();
    expect(store.calls).toHaveLength(1);
    store.calls[0]!.resolve();
    expect(await first).toBe(1n);
    for (let i = 2; i <= 9; i++) expect(await gen.nextId()).toBe(BigInt(i));
    expect(store.calls).toHaveLength(1);
    expect(await gen.nextId()).toBe(10n); // 10% used: the next segment is requested
    expect(store.calls).toHaveLength(2);
    store.calls[1]!.resolve();
    await flush();
    // The rest of segment 1, then segment 2 without waiting on the store.
    for (let i = 11; i <= 200; i++) expect(await gen.nextId()).toBe(BigInt(i));
    expect(store.calls).toHaveLength(3);
    store.calls[2]!.resolve(); // close() waits for the in-flight fetch
    await gen.close();
  });

  it('serves many concurrent callers from one fetch, without duplicates', async () => {
    const store = instantStore();
    const gen = createSegmentGenerator({ source: store.source, step: 7, adaptive: false });
    const ids = await Promise.all(Array.from({ length: 1000 }, () => gen.nextId()));
    expect(new Set(ids).size).toBe(1000);
    const sorted = [...ids].sort((a, b) => Number(a - b));
    expect(sorted[0]).toBe(1n);
    expect(sorted[999]).toBe(1000n);
    await gen.close();
  });

  it('a failed prefetch causes no unhandled rejection and is retried on the next call', async () => {
    // Call 2 (the first prefetch) and call 3 (the foreground retry) fail; call 4 works.
    const store = instantStore((call) => call === 2 || call === 3);
    const gen = createSegmentGenerator({ source: store.source, step: 10, adaptive: false });
    for (let i = 1; i <= 10; i++) expect(await gen.nextId()).toBe(BigInt(i));
    await flush();
    const error = await gen.nextId().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdGenBackendError);
    expect((error as IdGenBackendError).message).toMatch(/store down \(call 3\)/);
    expect(await gen.nextId()).toBe(11n);
    await gen.close();
  });

  it('every caller waiting on a failed fetch gets the error', async () => {
    const store = manualStore();
    const gen = createSegmentGenerator({ source: store.source, step: 10 });
    const waiting = Array.from({ length: 3 }, () => gen.nextId().catch((e: unknown) => e));
    store.calls[0]!.reject(new Error('boom'));
    const errors = await Promise.all(waiting);
    for (const e of errors) expect(IdGenBackendError.isInstance(e)).toBe(true);
    expect(store.calls).toHaveLength(1);
    await gen.close();
  });

  it('close() ends waiters, waits for the in-flight fetch and refuses new calls', async () => {
    const store = manualStore();
    const gen = createSegmentGenerator({ source: store.source, step: 10 });
    const waiter = gen.nextId().catch((e: unknown) => e);
    const closing = gen.close();
    let closed = false;
    void closing.then(() => {
      closed = true;
    });
    await flush();
    expect(closed).toBe(false); // the fetch is still running
    store.calls[0]!.resolve();
    await closing;
    expect(await waiter).toBeInstanceOf(IdGenClosedError);
    await expect(gen.nextId()).rejects.toBeInstanceOf(IdGenClosedError);
  });

  it('adapts the step to the consumption rate (injected clock)', async () => {
    let now = 0;
    const store = instantStore();
    const gen = createSegmentGenerator({
      source: store.source,
      step: 10,
      maxStep: 40,
      segmentDurationMs: 1000,
      clock: () => now,
    });
    const drain = async (n: number) => {
      for (let i = 0; i < n; i++) await gen.nextId();
      await flush();
    };
    await drain(2); // fetch 1 at t=0 (10), prefetch 2 at t=0 (fast: 20)
    now = 100;
    await drain(20); // prefetch 3 at t=100 (fast: 40)
    now = 200;
    await drain(40); // prefetch 4 (capped at 40)
    now = 10_000;
    await drain(40); // prefetch 5 after 9.8 s: slow, halves to 20
    expect(store.steps).toEqual([10, 20, 40, 40, 20]);
    expect(gen.step).toBe(20);
    await gen.close();
  });

  it('close() gives unused ids back only when nobody reserved after us', async () => {
    let counter = 0n;
    const source = async (step: number) => {
      counter += BigInt(step);
      return counter;
    };
    const giveBack = async (expected: bigint, to: bigint) => {
      if (counter !== expected) return false;
      counter = to;
      return true;
    };
    const gen = createSegmentGenerator({ source, giveBack, step: 10, adaptive: false });
    for (let i = 0; i < 15; i++) await gen.nextId(); // segment 2 in use, segment 3 prefetched
    await flush();
    expect(counter).toBe(30n);
    await gen.close();
    await gen.close(); // idempotent
    expect(counter).toBe(15n);

    const other = createSegmentGenerator({ source, giveBack, step: 10, adaptive: false });
    expect(await other.nextId()).toBe(16n); // reserves 16..25, prefetches 26..35
    counter += 100n; // someone else reserves after us
    await other.close();
    expect(counter).toBe(135n);
  });

  it('failed fetches do not grow the adaptive step', async () => {
    let now = 0;
    let failing = false;
    const steps: number[] = [];
    let max = 0n;
    const source = async (step: number) => {
      if (failing) throw new Error('down');
      steps.push(step);
      max += BigInt(step);
      return max;
    };
    const gen = createSegmentGenerator({
      source,
      step: 10,
      segmentDurationMs: 1000,
      clock: () => now,
    });
    await gen.nextId(); // fetch 1 (10); its prefetch (20, fast) runs at once
    await flush();
    failing = true;
    for (let i = 0; i < 29; i++) await gen.nextId(); // ids 2..30; background retries fail
    for (let i = 0; i < 3; i++)
      await expect(gen.nextId()).rejects.toBeInstanceOf(IdGenBackendError);
    failing = false;
    now = 1500; // a normal pace: neither doubles nor halves
    expect(await gen.nextId()).toBe(31n);
    expect(steps).toEqual([10, 20, 20]);
    await gen.close();
  });

  it('rejects bad options before any I/O', () => {
    const source = async () => {
      throw new Error('must not be called');
    };
    for (const step of [0, -1, 1.5, Number.NaN]) {
      expect(() => createSegmentGenerator({ source, step })).toThrow(IdGenArgumentError);
    }
    expect(() => createSegmentGenerator({ source, step: 10, maxStep: 5 })).toThrow(
      IdGenArgumentError,
    );
    expect(() => createSegmentGenerator({ source: undefined as never, step: 10 })).toThrow(
      IdGenArgumentError,
    );
  });

  it('refuses a store answer beyond 2^63-1', async () => {
    const gen = createSegmentGenerator({ source: async () => 2n ** 63n, step: 10 });
    await expect(gen.nextId()).rejects.toBeInstanceOf(IdOverflowError);
    await gen.close();
  });
});
