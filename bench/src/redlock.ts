/**
 * @dlock/redlock against node-redlock v5 over five independent Redis masters. The nodes are
 * DLOCK_REDLOCK_URLS (comma-separated redis:// URLs) or, by default, five throwaway redis-server
 * processes on spare local ports (no persistence) that are stopped afterwards. Reference rows:
 * @dlock/lock-redis on one of the nodes (one round trip per call: what a parallel fan-out should
 * cost about the same as) and a sequential fan-out (five round trips per call).
 *
 * Run alone: node --expose-gc --import tsx src/redlock.ts
 */
import { pathToFileURL } from 'node:url';
import { createLockClient, type LockBackend, type LockClient } from '@dlock/lock-core';
import { redisBackend } from '@dlock/lock-redis';
import { type RedlockClientLike, redlockBackend } from '@dlock/redlock';
import { startRedisServer, type TestRedisServer } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { type Contender, compare, opsPerSecond, print, type Result } from './harness.js';
import { handOff, type Peer, sampleTable, serverCost } from './peers.js';

const NODES = 5;
const OPS = 2_000;
const ROUNDS = 5;
const WAITERS = 16;
const SECTIONS = 320;
const TTL = 30_000;

/** Five nodes: the user's, or throwaway local servers. */
async function nodes(): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const given = process.env.DLOCK_REDLOCK_URLS?.split(',').filter(Boolean);
  if (given && given.length > 0) return { urls: given, stop: async () => {} };
  const servers: TestRedisServer[] = await Promise.all(
    Array.from({ length: NODES }, () => startRedisServer()),
  );
  return {
    urls: servers.map((s) => s.url),
    stop: async () => {
      await Promise.all(servers.map((s) => s.dispose()));
    },
  };
}

function dlockPeer(name: string, locks: LockClient): Peer {
  return {
    name,
    async lock(key) {
      const lock = await locks.acquire(key);
      return () => lock.release();
    },
  };
}

/**
 * A reference, not a product: majority voting over the same scripts (lock-redis on each node), but
 * asking one node after another. No validity or drift bookkeeping; poll-only.
 */
function sequential(clients: readonly RedlockClientLike[], prefix: string): LockBackend {
  const one = clients.map((client) => redisBackend({ client, prefix }));
  const majority = Math.floor(one.length / 2) + 1;
  const each = async <T>(call: (b: LockBackend) => Promise<T>): Promise<T[]> => {
    const results: T[] = [];
    for (const b of one) results.push(await call(b));
    return results;
  };
  return {
    specificationVersion: 1,
    name: 'sequential',
    capabilities: {
      watch: false,
      nativeWait: false,
      ttlGranularityMs: 1,
      batchExtend: false,
    },
    async tryAcquire(request) {
      const results = await each((b) => b.tryAcquire(request));
      const granted = results.filter((r) => r.acquired);
      if (granted.length >= majority) return granted[0]!;
      await each((b) => b.release(request));
      return { acquired: false };
    },
    async extend(request) {
      return (await each((b) => b.extend(request))).filter(Boolean).length >= majority;
    },
    async release(request) {
      const results = await each((b) => b.release(request));
      return results.filter((r) => r !== 'not-held').length >= majority ? 'released' : 'not-held';
    },
    inspect: (key) => one[0]!.inspect(key),
    async close() {
      await Promise.all(one.map((b) => b.close()));
    },
  };
}

export async function redlockBench(): Promise<Result[]> {
  const { urls, stop } = await nodes();
  const clients = urls.map((url) => new Redis(url, { maxRetriesPerRequest: 1 }));
  const prefix = `dlock-bench-redlock:${process.pid}:`;
  const backends = {
    single: redisBackend({ client: clients[0]!, prefix: `${prefix}single:` }),
    redlock: redlockBackend({
      clients: clients,
      prefix: `${prefix}redlock:`,
    }),
  };
  const single = createLockClient(backends.single, { ttlMs: TTL });
  const redlock = createLockClient(backends.redlock, { ttlMs: TTL });
  const seq = createLockClient(sequential(clients, `${prefix}sequential:`), { ttlMs: TTL });
  const nodeRedlock = new Redlock(clients, { retryCount: -1, retryDelay: 10, retryJitter: 10 });
  const all: Peer[] = [
    dlockPeer('@dlock/lock-redis (1 node, reference)', single),
    dlockPeer(`@dlock/redlock (${urls.length} nodes)`, redlock),
    {
      name: `node-redlock v5 (${urls.length} nodes)`,
      async lock(key) {
        const lock = await nodeRedlock.acquire([`${prefix}node-redlock:${key}`], TTL);
        return () => lock.release();
      },
    },
  ];
  const baseline = all[1]!.name;
  const micros = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const results: Result[] = [];
  try {
    results.push(
      await compare({
        title: `redlock: uncontended acquire + release, ${urls.length} nodes, sequential calls`,
        unit: 'ops/s',
        higherIsBetter: true,
        baseline,
        rounds: ROUNDS,
        notes: [
          `${OPS} acquire+release pairs per round. dlock sends each call to all nodes at once, so a`,
          'pair should cost about the two round trips of a single node, not ten; the sequential',
          'row asks one node after another (the shape of the algorithm as usually described).',
        ],
        contenders: [
          ...all,
          dlockPeer(`sequential fan-out (${urls.length} nodes, reference)`, seq),
        ].map(
          (peer): Contender => ({
            name: peer.name,
            async round() {
              const before = await serverCost(clients);
              const rate = await opsPerSecond(OPS, async () => {
                const release = await peer.lock('uncontended');
                await release();
              });
              const after = await serverCost(clients);
              const push = (map: Map<string, number[]>, value: number) =>
                (map.get(peer.name) ?? map.set(peer.name, []).get(peer.name)!).push(value / OPS);
              push(micros, after.scripts - before.scripts);
              push(cpu, after.cpu - before.cpu);
              return rate;
            },
          }),
        ),
      }),
    );
    const microResult = sampleTable(
      `redlock: script time per uncontended acquire + release, summed over the ${urls.length} nodes (INFO commandstats)`,
      'script µs/pair',
      baseline,
      micros,
      ['usec of EVALSHA/EVAL per pair over all nodes (inner calls included).'],
    );
    const cpuResult = sampleTable(
      `redlock: server CPU per uncontended acquire + release, summed over the ${urls.length} nodes (INFO cpu)`,
      'server CPU µs/pair',
      baseline,
      cpu,
      ["The server processes' CPU time per pair (user + sys): parsing, socket I/O and scripts."],
    );
    print(microResult);
    print(cpuResult);
    results.push(microResult, cpuResult);
    results.push(
      await compare({
        title: `redlock: ${WAITERS} waiters in one process share ${SECTIONS} sections of ~1 ms on one key`,
        unit: 'sections/s',
        higherIsBetter: true,
        baseline,
        rounds: ROUNDS,
        notes: [
          'node-redlock retries every 10-20 ms; dlock queues waiters locally and hands the lock to',
          'the next one on release (other processes wake on the release messages).',
        ],
        contenders: all.map(
          (peer): Contender => ({
            name: peer.name,
            round: () => handOff(peer, 'contended', { waiters: WAITERS, sections: SECTIONS }),
          }),
        ),
      }),
    );
  } finally {
    await Promise.allSettled([single.close(), redlock.close(), seq.close()]);
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await stop();
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await redlockBench();
