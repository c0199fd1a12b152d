import { createLockClient, type Lock, memoryBackend } from '@dlock/lock-core';
import { Mutex } from 'async-mutex';
import { compare, opsPerSecond, type Result } from './harness.js';
import { manyWaitersBench } from './lock-core-waiters.js';

const OPS = 20_000;
const ROUNDS = 7;

/** lock-core's own overhead, against the in-process baseline async-mutex. */
export async function lockCoreBench(): Promise<Result[]> {
  const results: Result[] = [];

  const client = createLockClient(memoryBackend(), { ttlMs: 30_000 });
  const mutex = new Mutex();
  results.push(
    await compare({
      title: 'lock-core: uncontended acquire + release, one key, sequential (memoryBackend)',
      unit: 'ops/s',
      higherIsBetter: true,
      baseline: 'async-mutex Mutex',
      rounds: ROUNDS,
      notes: ['Target: dlock within 2x of async-mutex (ratio >= 0.5).'],
      contenders: [
        {
          name: 'async-mutex Mutex',
          round: () =>
            opsPerSecond(OPS, async () => {
              const release = await mutex.acquire();
              release();
            }),
        },
        {
          name: 'dlock memoryBackend',
          round: () =>
            opsPerSecond(OPS, async () => {
              const lock = await client.acquire('bench');
              await lock.release();
            }),
        },
      ],
    }),
  );

  results.push(
    await compare({
      title: 'lock-core: 64 waiters in one process hand off one key (640 sections)',
      unit: 'sections/s',
      higherIsBetter: true,
      baseline: 'async-mutex Mutex',
      rounds: ROUNDS,
      contenders: [
        { name: 'async-mutex Mutex', round: () => handOff((work) => mutex.runExclusive(work)) },
        {
          name: 'dlock memoryBackend (watch)',
          round: () => handOff((work) => client.using('handoff', work)),
        },
        {
          name: 'dlock memoryBackend (poll)',
          round: () => handOff((work) => client.using('handoff-poll', work, { strategy: 'poll' })),
        },
      ],
    }),
  );
  await client.close();

  results.push(
    await compare({
      title: 'lock-core: heap bytes per held lock, 10,000 locks held under the watchdog',
      unit: 'bytes/lock',
      higherIsBetter: false,
      baseline: 'async-mutex Mutex',
      rounds: 3,
      notes: [
        'dlock counts the client (lease, handle, watchdog entry) and the memory backend state together;',
        'async-mutex counts one Mutex per key, held. Needs node --expose-gc for stable numbers.',
      ],
      contenders: [
        {
          name: 'async-mutex Mutex',
          round: () =>
            heapPerItem(async (n) => {
              const held = Array.from({ length: n }, () => new Mutex());
              const releases = await Promise.all(held.map((m) => m.acquire()));
              return () => {
                for (const release of releases) release();
                return [held, releases];
              };
            }),
        },
        {
          name: 'dlock memoryBackend + watchdog',
          round: () =>
            heapPerItem(async (n) => {
              const c = createLockClient(memoryBackend(), { ttlMs: 30_000 });
              const locks: Lock[] = await Promise.all(
                Array.from({ length: n }, (_, i) => c.acquire(`held:${i}`, { autoExtend: true })),
              );
              return async () => {
                await c.close();
                return locks;
              };
            }),
        },
      ],
    }),
  );
  results.push(...(await manyWaitersBench()));
  return results;
}

async function handOff(section: (work: () => Promise<void>) => Promise<void>): Promise<number> {
  const waiters = 64;
  const perWaiter = 10;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: waiters }, async () => {
      for (let i = 0; i < perWaiter; i++) await section(async () => {});
    }),
  );
  return ((waiters * perWaiter) / (performance.now() - start)) * 1000;
}

/** Heap growth per item while `hold(n)` keeps n items alive; its return value frees them. */
async function heapPerItem(hold: (n: number) => Promise<() => unknown>): Promise<number> {
  const n = 10_000;
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const free = await hold(n);
  globalThis.gc?.();
  const after = process.memoryUsage().heapUsed;
  await free();
  return (after - before) / n;
}
