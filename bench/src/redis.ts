/**
 * @dlock/lock-redis against its peers on the machine's Redis (127.0.0.1:6379, or DLOCK_REDIS_URL),
 * under a unique key prefix that is deleted afterwards. Peers: redis-semaphore's Mutex,
 * node-redlock v5 on a single node, and the floor: one raw `SET NX PX` plus a Lua
 * compare-and-delete, which is the least any safe Redis lock must send.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { redisBackend } from '@dlock/lock-redis';
import { Redis } from 'ioredis';
import { Mutex } from 'redis-semaphore';
import Redlock from 'redlock';
import { type Contender, compare, median, opsPerSecond, print, type Result } from './harness.js';
import {
  commandsProcessed,
  deleteKeys,
  handOff,
  type Peer,
  sampleTable,
  serverCost,
} from './peers.js';

const URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
const OPS = 5_000;
const ROUNDS = 7;
const WAITERS = 64;
const SECTIONS = 640;
const HELD_LOCKS = 1_000;
const TTL = 30_000;

const COMPARE_AND_DELETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type FloorClient = Redis & { benchCad(key: string, token: string): Promise<number> };

/** The peers, each able to take and give back one lock on a key. */

function peers(redis: Redis, prefix: string, dlock: LockClient): Peer[] {
  const floor = redis as FloorClient;
  floor.defineCommand('benchCad', { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
  const redlock = new Redlock([redis], { retryCount: -1, retryDelay: 10, retryJitter: 10 });
  return [
    {
      name: 'floor: SET NX PX + Lua compare-and-delete',
      async lock(key) {
        const name = `${prefix}floor:${key}`;
        const token = randomBytes(16).toString('hex');
        // The floor has no wait strategy of its own: a short fixed retry.
        while ((await redis.set(name, token, 'PX', TTL, 'NX')) !== 'OK') await sleep(2);
        return () => floor.benchCad(name, token);
      },
    },
    {
      name: '@dlock/lock-redis',
      async lock(key) {
        const lock = await dlock.acquire(key);
        return () => lock.release();
      },
    },
    {
      name: 'redis-semaphore Mutex',
      async lock(key) {
        const mutex = new Mutex(redis, `${prefix}semaphore:${key}`, {
          lockTimeout: TTL,
          acquireTimeout: 60_000,
          retryInterval: 10,
          refreshInterval: 0,
        });
        await mutex.acquire();
        return () => mutex.release();
      },
    },
    {
      name: 'node-redlock v5 (single node)',
      async lock(key) {
        const lock = await redlock.acquire([`${prefix}redlock:${key}`], TTL);
        return () => lock.release();
      },
    },
  ];
}

/** Total `MEMORY USAGE` of the keys matching `pattern`. */
async function memoryOf(redis: Redis, pattern: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) total += Number(await redis.memory('USAGE', key));
  } while (cursor !== '0');
  return total;
}

export async function redisBench(): Promise<Result[]> {
  const redis = new Redis(URL, { maxRetriesPerRequest: 1 });
  const prefix = `dlock-bench:${process.pid}:`;
  const dlock = createLockClient(redisBackend({ client: redis, prefix: `${prefix}dlock:` }), {
    ttlMs: TTL,
  });
  const results: Result[] = [];
  try {
    const all = peers(redis, prefix, dlock);
    const baseline = all[0]!.name;
    const micros = new Map<string, number[]>(all.map((p) => [p.name, []]));
    const cpu = new Map<string, number[]>(all.map((p) => [p.name, []]));

    results.push(
      await compare({
        title: 'redis: uncontended acquire + release, one key, sequential',
        unit: 'ops/s',
        higherIsBetter: true,
        baseline,
        rounds: ROUNDS,
        notes: [
          `${OPS} acquire+release pairs per round against ${URL}; each is two round trips for every peer.`,
        ],
        contenders: all.map(
          (peer): Contender => ({
            name: peer.name,
            async round() {
              const before = await serverCost([redis]);
              const rate = await opsPerSecond(OPS, async () => {
                const release = await peer.lock('uncontended');
                await release();
              });
              const after = await serverCost([redis]);
              micros.get(peer.name)!.push((after.scripts - before.scripts) / OPS);
              cpu.get(peer.name)!.push((after.cpu - before.cpu) / OPS);
              return rate;
            },
          }),
        ),
      }),
    );
    const microResult = sampleTable(
      'redis: script time per uncontended acquire + release, same rounds (INFO commandstats)',
      'script µs/pair',
      baseline,
      micros,
      [
        'usec of EVALSHA/EVAL per pair (inner calls included). The floor and redis-semaphore also',
        'send a plain SET per pair, about 1 µs more, not in this figure. Other traffic on a shared',
        'server inflates it: the min column is the closest to the work itself.',
      ],
    );
    const cpuResult = sampleTable(
      'redis: server CPU per uncontended acquire + release, same rounds (INFO cpu, user + sys)',
      'server CPU µs/pair',
      baseline,
      cpu,
      ["The server process's CPU time per pair: parsing, socket I/O and scripts."],
    );
    print(microResult);
    print(cpuResult);
    results.push(microResult, cpuResult);

    // Contention: sections/s through the harness, commands per section collected alongside.
    // The baseline is the ideal: the same sections one after another with no lock at all.
    const commands = new Map<string, number[]>(all.map((p) => [p.name, []]));
    const ideal: Contender = {
      name: 'ideal: the same sections run one after another, no lock',
      async round() {
        const started = performance.now();
        for (let i = 0; i < SECTIONS; i++) await sleep(1);
        return SECTIONS / ((performance.now() - started) / 1000);
      },
    };
    results.push(
      await compare({
        title: `redis: ${WAITERS} waiters in one process share ${SECTIONS} sections of ~1 ms on one key`,
        unit: 'sections/s',
        higherIsBetter: true,
        baseline: ideal.name,
        rounds: ROUNDS,
        notes: [
          'The floor and redis-semaphore poll every 2-10 ms; node-redlock retries every 10-20 ms;',
          "dlock queues waiters locally and wakes the next on the release's pub/sub message.",
        ],
        contenders: [
          ideal,
          ...all.map(
            (peer): Contender => ({
              name: peer.name,
              async round() {
                const before = await commandsProcessed(redis);
                const started = performance.now();
                await handOff(peer, 'contended', { waiters: WAITERS, sections: SECTIONS });
                const seconds = (performance.now() - started) / 1000;
                const after = await commandsProcessed(redis);
                // Minus the INFO call that took the first reading.
                commands.get(peer.name)!.push((after - before - 1) / SECTIONS);
                return SECTIONS / seconds;
              },
            }),
          ),
        ],
      }),
    );
    const base = median(commands.get(baseline)!);
    const commandResult: Result = {
      title: `redis: server commands per section in the same run (INFO total_commands_processed)`,
      unit: 'commands/section',
      baseline,
      higherIsBetter: false,
      rows: all.map((peer) => {
        const samples = commands.get(peer.name)!;
        return {
          name: peer.name,
          median: median(samples),
          min: Math.min(...samples),
          max: Math.max(...samples),
          ratio: median(samples) / base,
          samples,
        };
      }),
      notes: [
        'Counts every command the server processed, including the calls made inside Lua scripts',
        '(an uncontended dlock acquire is EVALSHA + SET, TIME, SET GET), so it is the server work per',
        'section; it assumes no other traffic on the server during the run.',
      ],
    };
    print(commandResult);
    results.push(commandResult);

    results.push(
      await compare({
        title: `redis: server memory per held lock (MEMORY USAGE, ${HELD_LOCKS} locks held)`,
        unit: 'bytes/lock',
        higherIsBetter: false,
        baseline,
        rounds: 1,
        notes: [
          'dlock counts the lock (a string; a hash once re-entered) and the fencing counter, which outlives the lock (about 100',
          'bytes per key ever locked unless fencingRetentionMs is set); the others keep no counter.',
        ],
        contenders: all.map(
          (peer): Contender => ({
            name: peer.name,
            async round() {
              const releases = [];
              for (let i = 0; i < HELD_LOCKS; i++) releases.push(await peer.lock(`held:${i}`));
              // redis-semaphore puts its own `mutex:` in front of the key name.
              const bytes = await memoryOf(redis, `*${prefix}*held:*`);
              for (const release of releases) await release();
              // dlock's fencing counters stay behind: count them while held, then clear them.
              await deleteKeys(redis, `*${prefix}*held:*`);
              return bytes / HELD_LOCKS;
            },
          }),
        ),
      }),
    );
  } finally {
    await dlock.close();
    await deleteKeys(redis, `*${prefix}*`);
    await redis.quit();
  }
  return results;
}
