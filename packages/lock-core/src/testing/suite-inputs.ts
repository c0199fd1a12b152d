import assert from 'node:assert/strict';
import type { LockBackend } from '../backend.js';
import { createLockClient } from '../client.js';
import { LockArgumentError } from '../errors.js';
import type { Kit } from './kit.js';

/** Every bad input is a LockArgumentError before any I/O; odd but valid keys work everywhere. */
export function inputsSuite(kit: Kit): void {
  const { it } = kit.runner;

  const badKeys: [string, unknown][] = [
    ['empty string', ''],
    ['number', 42],
    ['null', null],
    ['undefined', undefined],
    ['object', { key: 'k' }],
    ['513 ASCII bytes', 'k'.repeat(513)],
    ['516 bytes of emoji', '😀'.repeat(129)],
    ['lone surrogate', 'bad\ud800key'],
  ];
  const badOptions: [string, unknown][] = [
    ['ttlMs 0', { ttlMs: 0 }],
    ['ttlMs negative', { ttlMs: -1 }],
    ['ttlMs fractional', { ttlMs: 1.5 }],
    ['ttlMs NaN', { ttlMs: Number.NaN }],
    ['ttlMs Infinity', { ttlMs: Number.POSITIVE_INFINITY }],
    ['ttlMs 2^31', { ttlMs: 2 ** 31 }],
    ['ttlMs string', { ttlMs: '100' }],
    ['waitTimeoutMs negative', { waitTimeoutMs: -1 }],
    ['waitTimeoutMs NaN', { waitTimeoutMs: Number.NaN }],
    ['waitTimeoutMs string', { waitTimeoutMs: '5' }],
    ['unknown option (typo)', { ttl: 100 }],
    ['unknown option', { timeout: 5 }],
    ['owner empty', { owner: '' }],
    ['owner number', { owner: 5 }],
    ['signal not an AbortSignal', { signal: {} }],
    ['strategy unknown', { strategy: 'bogus' }],
    ['autoExtend not boolean', { autoExtend: 'yes' }],
    ['maxHoldMs 0', { maxHoldMs: 0 }],
    ['onLost not a function', { onLost: 'log' }],
    ['poll option unknown', { poll: { delay: 5 } }],
    ['poll delay negative', { poll: { initialDelayMs: -5 } }],
    ['options not an object', 5],
  ];

  it('rejects every bad key and option with LockArgumentError before any I/O', async () => {
    const { backend, calls } = counting(await kit.backend());
    const client = createLockClient(backend, { ttlMs: kit.ttl });
    const isArgument = (e: unknown) => LockArgumentError.isInstance(e);
    for (const [what, key] of badKeys) {
      await assert.rejects(client.acquire(key as string), isArgument, `acquire key: ${what}`);
      await assert.rejects(client.tryAcquire(key as string), isArgument, `tryAcquire key: ${what}`);
      await assert.rejects(
        client.using(key as string, async () => {}),
        isArgument,
        `using key: ${what}`,
      );
      await assert.rejects(client.inspect(key as string), isArgument, `inspect key: ${what}`);
    }
    for (const [what, options] of badOptions) {
      await assert.rejects(client.acquire('k', options as object), isArgument, `acquire: ${what}`);
      await assert.rejects(
        client.using('k', async () => {}, options as object),
        isArgument,
        `using: ${what}`,
      );
    }
    await assert.rejects(
      client.tryAcquire('k', { waitTimeoutMs: 5 } as object),
      isArgument,
      'tryAcquire never waits',
    );
    await assert.rejects(
      client.using('k', async () => {}, { autoExtend: false } as object),
      isArgument,
    );
    await assert.rejects(client.using('k', 'not a function' as never), isArgument);
    assert.throws(() => createLockClient(backend, { ttlMs: 0 }), isArgument);
    assert.throws(() => createLockClient(backend, { retries: 3 } as object), isArgument);
    assert.throws(() => createLockClient(backend, { strategy: 'fast' } as never), isArgument);
    assert.equal(calls.count, 0, `bad input reached the backend (${calls.count} calls)`);
    const lock = await client.acquire(kit.key('bad-extend'));
    calls.count = 0;
    for (const ttl of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      await assert.rejects(lock.extend(ttl), isArgument, `extend(${ttl})`);
    }
    assert.equal(calls.count, 0);
    await lock.release();
    await client.close();
  });

  it('accepts keys with quotes, spaces, braces, wildcards, scripts syntax, non-ASCII and emoji', async () => {
    const [a, b] = [await kit.client(), await kit.client()];
    const keys = [
      `"quoted" 'single' \`tick\``,
      'with spaces and\ttabs\nand newlines',
      '{braces}{}{{nested}}',
      'wild*cards?[a-z]%_',
      "'); DROP TABLE locks; --",
      'redis.call("FLUSHALL") ]] -- KEYS[1]',
      '../../etc/passwd',
      'ünïcödé 鎖 ключ',
      '🔒🗝️👩‍👩‍👧',
      'x'.repeat(500 - 32),
    ];
    for (const name of keys) {
      const key = kit.key(name);
      const lock = await a.acquire(key);
      assert.equal(lock.key, key);
      assert.equal(await b.tryAcquire(key), null, `no exclusion for ${JSON.stringify(name)}`);
      assert.equal((await b.inspect(key))?.count, 1);
      assert.equal(await lock.release(), true);
      const again = await b.tryAcquire(key);
      assert.ok(again && again.fencingToken > lock.fencingToken);
      await again.release();
    }
    // Exactly at the limit.
    const prefix = kit.key('limit:');
    const room = 512 - Buffer.byteLength(prefix);
    const atLimit =
      prefix + 'é'.repeat(Math.floor(room / 4)) + 'k'.repeat(room - 2 * Math.floor(room / 4));
    assert.equal(Buffer.byteLength(atLimit), 512);
    const lock = await a.acquire(atLimit);
    await lock.release();
  });
}

/** Wraps a backend, counting calls to its primitives. */
function counting(inner: LockBackend): { backend: LockBackend; calls: { count: number } } {
  const calls = { count: 0 };
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      calls.count++;
      return fn(...args);
    };
  const backend: LockBackend = {
    specificationVersion: inner.specificationVersion,
    name: inner.name,
    capabilities: inner.capabilities,
    tryAcquire: wrap((r) => inner.tryAcquire(r)),
    extend: wrap((r) => inner.extend(r)),
    release: wrap((r) => inner.release(r)),
    inspect: wrap((k) => inner.inspect(k)),
    close: () => inner.close(),
    ...(inner.extendMany ? { extendMany: wrap((r) => inner.extendMany!(r)) } : {}),
    ...(inner.watch ? { watch: wrap((k, f) => inner.watch!(k, f)) } : {}),
    ...(inner.waitAcquire ? { waitAcquire: wrap((r) => inner.waitAcquire!(r)) } : {}),
  };
  return { backend, calls };
}
