import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type AcquireRequest,
  createLockClient,
  type LockBackend,
  LockBackendError,
  LockClosedError,
  LockTimeoutError,
  MemoryStore,
  memoryBackend,
} from '../src/index.js';
import { conformanceFrame } from '../src/testing/conformance-frame.js';
import { multiSuite } from '../src/testing/suite-multi.js';
import { useFakeClock } from './fake-clock.js';

/** The memory backend as one without the atomic fast path: every set is taken key by key. */
function withoutMany(backend: LockBackend): LockBackend {
  const { tryAcquireMany: _atomic, ...rest } = backend;
  return rest;
}

const runner = { describe, it, beforeAll, afterAll };
const plainStore = new MemoryStore();
conformanceFrame(
  'several keys, one at a time',
  {
    name: 'memory without tryAcquireMany',
    createBackend: () => withoutMany(memoryBackend({ store: plainStore })),
    runner,
  },
  (kit) => multiSuite(kit),
);

describe('acquireAll: one deadline for the set (fake clock)', () => {
  useFakeClock();

  const backends = [
    ['atomic batches', (store: MemoryStore) => memoryBackend({ store })],
    ['one key at a time', (store: MemoryStore) => withoutMany(memoryBackend({ store }))],
  ] as const;
  for (const [label, make] of backends) {
    for (const size of [20, 2_000]) {
      it(`[${label}, ${size} keys] each member waits only for what is left of waitTimeoutMs`, async () => {
        const store = new MemoryStore();
        const [a, b] = [createLockClient(make(store)), createLockClient(make(store))];
        const name = (i: number) => `k${String(i).padStart(5, '0')}`;
        const set = Array.from({ length: size }, (_, i) => name(i));
        const [early, late] = [name(size / 2), name((size * 3) / 4)];
        const first = await b.acquire(early, { ttlMs: 60_000 });
        const second = await b.acquire(late, { ttlMs: 60_000 });
        let outcome: unknown;
        const waiting = a.acquireAll(set, { waitTimeoutMs: 1_000, ttlMs: 60_000 }).then(
          (all) => (outcome = all),
          (error: unknown) => (outcome = error),
        );
        // The first busy key frees after 600 ms: the set has 400 ms left for the second.
        await vi.advanceTimersByTimeAsync(600);
        await first.release();
        await vi.advanceTimersByTimeAsync(390);
        expect(outcome).toBeUndefined();
        expect((await a.inspect(early))?.holder).toBeDefined();
        await vi.advanceTimersByTimeAsync(20);
        // Settled by now (not awaited: a set that waits longer must fail here, not hang).
        expect(LockTimeoutError.isInstance(outcome)).toBe(true);
        const error = outcome as LockTimeoutError;
        expect(error.key).toBe(late);
        expect(error.waitTimeoutMs).toBe(1_000);
        expect(error.message).toMatch(new RegExp(`set of ${size}`));
        for (const key of set) {
          if (key !== late) expect(await a.inspect(key), key).toBeNull();
        }
        await second.release();
        await waiting;
        await Promise.all([a.close(), b.close()]);
      });
    }
  }
});

describe('acquireAll: batches', () => {
  it('splits by manyGroup (groups in UTF-8 order of their names) and maxManyKeys, never mixing groups', async () => {
    const inner = memoryBackend();
    const calls: string[][] = [];
    const backend: LockBackend = {
      ...inner,
      capabilities: { ...inner.capabilities, maxManyKeys: 2 },
      // The group is the key's first character: 'b' keys before 'é' keys before '🔒' keys.
      manyGroup: (key) => [...key][0]!,
      tryAcquireMany(requests: readonly AcquireRequest[]) {
        calls.push(requests.map((r) => r.key));
        return inner.tryAcquireMany!(requests);
      },
    };
    const client = createLockClient(backend);
    const all = await client.acquireAll(['🔒2', 'é1', 'b3', '🔒1', 'b1', 'b2', 'é2', 'x']);
    expect(calls).toEqual([
      ['b1', 'b2'],
      ['é1', 'é2'],
      ['🔒1', '🔒2'],
    ]);
    // 'b3' and 'x' are batches of one: a plain tryAcquire each, no tryAcquireMany.
    expect(all.locks.map((lock) => lock.key)).toEqual([
      'b1',
      'b2',
      'b3',
      'x',
      'é1',
      'é2',
      '🔒1',
      '🔒2',
    ]);
    await all.release();
    await client.close();
  });

  it('orders keys by UTF-8 bytes, not by UTF-16 code units', async () => {
    const client = createLockClient(memoryBackend());
    // U+FF5E sorts before U+1F512 in UTF-8 (EF vs F0) but after it in UTF-16 (FF5E vs D83D).
    const all = await client.acquireAll(['🔒', '～']);
    expect(all.locks.map((lock) => lock.key)).toEqual(['～', '🔒']);
    await all.release();
    await client.close();
  });

  it('hands back an atomic grant that arrives after close(), and rejects with LockClosedError', async () => {
    const store = new MemoryStore();
    const inner = memoryBackend({ store });
    let closeNow: (() => Promise<void>) | undefined;
    const backend: LockBackend = {
      ...inner,
      async tryAcquireMany(requests) {
        const results = await inner.tryAcquireMany!(requests);
        await closeNow?.();
        return results;
      },
      // The client closes its backend: keep this one open to see what was handed back.
      close: async () => {},
    };
    const client = createLockClient(backend);
    closeNow = () => client.close();
    await expect(client.acquireAll(['a', 'b'])).rejects.toSatisfy(LockClosedError.isInstance);
    await vi.waitFor(async () => {
      expect(await inner.inspect('a')).toBeNull();
      expect(await inner.inspect('b')).toBeNull();
    });
    await inner.close();
  });

  it('ends a waiting set with LockClosedError on close(), holding nothing', async () => {
    const store = new MemoryStore();
    const [a, b] = [
      createLockClient(memoryBackend({ store })),
      createLockClient(memoryBackend({ store })),
    ];
    const busy = await b.acquire('m2');
    const waiting = a.acquireAll(['m1', 'm2', 'm3']);
    await vi.waitFor(async () => expect(await b.inspect('m1')).not.toBeNull());
    await a.close();
    await expect(waiting).rejects.toSatisfy(LockClosedError.isInstance);
    expect(await b.inspect('m1')).toBeNull();
    await busy.release();
    await b.close();
  });
});

describe('MultiLock', () => {
  it('prints keys, tokens and held, never an owner token; asyncDispose releases the set', async () => {
    const client = createLockClient(memoryBackend(), { clientId: 'printer' });
    const all = await client.acquireAll(['p2', 'p1']);
    const owner = /printer#/;
    const json = JSON.stringify(all);
    expect(JSON.parse(json)).toEqual({
      keys: ['p1', 'p2'],
      fencingTokens: {
        p1: String(all.fencingTokens.get('p1')),
        p2: String(all.fencingTokens.get('p2')),
      },
      held: true,
    });
    expect(json).not.toMatch(owner);
    const printed = inspect(all, { depth: 5 });
    expect(printed).toMatch(/^MultiLock \{/);
    expect(printed).not.toMatch(owner);
    await all[Symbol.asyncDispose]();
    expect(all.held).toBe(false);
    expect(await client.inspect('p1')).toBeNull();
    await client.close();
  });
});

describe('acquireAll: between batches', () => {
  it('an abort after one batch sends no further atomic attempt and gives back the first', async () => {
    const inner = memoryBackend();
    const controller = new AbortController();
    const reason = new Error('enough');
    let calls = 0;
    const backend: LockBackend = {
      ...inner,
      capabilities: { ...inner.capabilities, maxManyKeys: 2 },
      async tryAcquireMany(requests) {
        calls++;
        const results = await inner.tryAcquireMany!(requests);
        controller.abort(reason);
        return results;
      },
    };
    const client = createLockClient(backend);
    await expect(
      client.acquireAll(['a1', 'a2', 'a3', 'a4'], { signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(calls).toBe(1);
    for (const key of ['a1', 'a2', 'a3', 'a4']) expect(await client.inspect(key)).toBeNull();
    await client.close();
  });
});

describe('acquireAll: a misbehaving backend', () => {
  it('a short tryAcquireMany answer, or a throwing manyGroup, is a LockBackendError; nothing stays held', async () => {
    const inner = memoryBackend();
    const short = createLockClient({ ...inner, tryAcquireMany: async () => [] });
    await expect(short.acquireAll(['s1', 's2'])).rejects.toSatisfy(LockBackendError.isInstance);
    const throwing = createLockClient({
      ...memoryBackend(),
      manyGroup: () => {
        throw new Error('no slot');
      },
    });
    await expect(throwing.acquireAll(['s1', 's2'])).rejects.toSatisfy(LockBackendError.isInstance);
    expect(await short.inspect('s1')).toBeNull();
    await Promise.all([short.close(), throwing.close()]);
  });
});
