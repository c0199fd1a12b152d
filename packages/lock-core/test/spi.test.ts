import { describe, expect, it } from 'vitest';
import {
  createLockClient,
  LockArgumentError,
  type LockBackend,
  LockClosedError,
  LockError,
  LockUnsupportedError,
  memoryBackend,
} from '../src/index.js';
import {
  durationMs,
  nonNegativeInt,
  positiveInt,
  rejectUnknownOptions,
  SPECIFICATION_VERSION,
} from '../src/spi.js';

describe('specificationVersion', () => {
  it('is 1, and every memory backend declares it', () => {
    expect(SPECIFICATION_VERSION).toBe(1);
    expect(memoryBackend().specificationVersion).toBe(1);
  });

  it('refuses a backend with another or no version, naming the supported one, before any call', () => {
    const calls: string[] = [];
    const inner = memoryBackend();
    const spy = (version: unknown): LockBackend =>
      ({
        ...inner,
        specificationVersion: version,
        tryAcquire: (r) => {
          calls.push('tryAcquire');
          return inner.tryAcquire(r);
        },
      }) as LockBackend;
    for (const version of [2, 0, '1', undefined]) {
      expect(() => createLockClient(spy(version))).toThrow(LockArgumentError);
      expect(() => createLockClient(spy(version))).toThrow(/supports specificationVersion 1/);
    }
    const { specificationVersion: _, ...unversioned } = inner;
    expect(() => createLockClient(unversioned as LockBackend)).toThrow(
      /implements SPI version undefined/,
    );
    expect(calls).toEqual([]);
  });
});

describe('LockUnsupportedError', () => {
  it('is what a missing optional operation throws, before any I/O', async () => {
    const { forceRelease: _, ...withoutForce } = memoryBackend();
    const client = createLockClient(withoutForce as LockBackend);
    const error = await client.forceRelease('k').catch((e: unknown) => e);
    expect(LockUnsupportedError.isInstance(error)).toBe(true);
    expect(LockArgumentError.isInstance(error)).toBe(false);
    expect(error).toMatchObject({ code: 'DLOCK_UNSUPPORTED', operation: 'forceRelease' });
    expect(LockError.isInstance(error)).toBe(true);
    await client.close();
  });

  it('is what a wait strategy the backend lacks throws', async () => {
    const client = createLockClient(memoryBackend());
    const error = await client.acquire('k', { strategy: 'native' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockUnsupportedError);
    expect(error).toMatchObject({ code: 'DLOCK_UNSUPPORTED', operation: 'waitAcquire' });
    expect(() => createLockClient(memoryBackend(), { strategy: 'native' })).toThrow(
      LockUnsupportedError,
    );
    await client.close();
  });
});

describe('a closed memory backend', () => {
  it('rejects every operation with LockClosedError', async () => {
    const backend = memoryBackend();
    await backend.close();
    const request = { key: 'k', owner: 'o', ttlMs: 1_000 };
    const calls = [
      backend.tryAcquire(request),
      backend.extend(request),
      backend.release(request),
      backend.inspect('k'),
      backend.forceRelease!('k'),
      backend.watch!('k', () => {}),
    ];
    for (const call of calls) {
      const error = await call.catch((e: unknown) => e);
      expect(LockClosedError.isInstance(error), String(error)).toBe(true);
    }
  });
});

describe('option validators', () => {
  it('positiveInt and durationMs take integers in bounds, Infinity only when allowed', () => {
    expect(positiveInt('n', 1)).toBe(1);
    expect(positiveInt('n', 2 ** 31 - 1)).toBe(2 ** 31 - 1);
    expect(durationMs('d', 5, { min: 5, max: 5 })).toBe(5);
    expect(durationMs('d', Number.POSITIVE_INFINITY, { infinity: true })).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(positiveInt('n', 2 ** 40, { max: Number.MAX_SAFE_INTEGER })).toBe(2 ** 40);
    expect(nonNegativeInt('r', 0)).toBe(0);
    const bad: [() => number, RegExp][] = [
      [() => positiveInt('x.count', 0), /x\.count must be a positive integer .*got 0/],
      [() => positiveInt('n', 1.5), /got 1\.5/],
      [() => positiveInt('n', '3'), /got "3"/],
      [() => positiveInt('n', 2 ** 31), /at most 2147483647/],
      [() => durationMs('d', Number.POSITIVE_INFINITY), /got Infinity/],
      [() => durationMs('d', Number.NaN), /got NaN/],
      [() => durationMs('d', 999, { min: 1_000 }), /an integer from 1000/],
      [() => nonNegativeInt('r', -1), /non-negative integer/],
    ];
    for (const [call, message] of bad) {
      expect(call).toThrow(LockArgumentError);
      expect(call).toThrow(message);
    }
  });

  it('rejectUnknownOptions names the unknown key and every known one', () => {
    expect(rejectUnknownOptions('x', undefined, ['a'])).toEqual({});
    expect(rejectUnknownOptions('x', { a: 1 }, new Set(['a', 'b']))).toEqual({ a: 1 });
    expect(() => rejectUnknownOptions('myBackend', { prefx: 'p' }, ['prefix', 'client'])).toThrow(
      'Unknown option "prefx" for myBackend; known options: prefix, client',
    );
    expect(() => rejectUnknownOptions('myBackend', [], ['a'])).toThrow(/must be an object/);
    expect(() => rejectUnknownOptions('myBackend', null, ['a'])).toThrow(LockArgumentError);
  });

  it('memoryBackend refuses unknown options with the known ones', () => {
    expect(() => memoryBackend({ stor: 1 } as never)).toThrow(
      'Unknown option "stor" for memoryBackend; known options: store, clock',
    );
  });
});
