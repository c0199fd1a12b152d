/**
 * One of the 8 processes of the fair suite (fair.ts), started with `fork` and driven over IPC:
 * on `{ peer, key, sections, startAt }` it waits for the common start (wall clock, the same on
 * every process of the machine), runs `sections` ~1 ms sections under that peer's lock, and
 * answers with when each take was asked for and granted (wall ms) and how many requests its
 * Redis connections sent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient } from '@dlock/lock-core';
import { redisBackend } from '@dlock/lock-redis';
import { Pipeline, Redis } from 'ioredis';
import { Mutex } from 'redis-semaphore';
import Redlock from 'redlock';
import type { Peer } from './peers.js';

export interface FairRun {
  readonly peer: string;
  readonly key: string;
  readonly sections: number;
  /** Wall-clock ms (`Date.now()` scale) at which every process starts. */
  readonly startAt: number;
  /** This process's place among the `of` processes (the relay's ring order). */
  readonly index: number;
  readonly of: number;
}

export interface FairReport {
  /** [asked, granted] per section, wall ms with sub-ms precision. */
  readonly takes: readonly (readonly [number, number])[];
  /** Wall ms when this process's last section was released. */
  readonly finishedAt: number;
  /** Requests written to Redis during the run (a pipeline counts once): round trips. */
  readonly requests: number;
}

const URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = process.env.FAIR_PREFIX!;
const TTL = 30_000;

// Round trips: every command written on its own, and every pipeline once.
let requests = 0;
const send = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<typeof send>) {
  if (args[1] === undefined) requests++;
  return send.apply(this, args);
};
const exec = Pipeline.prototype.exec;
Pipeline.prototype.exec = function (this: Pipeline, ...args: Parameters<typeof exec>) {
  requests++;
  return exec.apply(this, args);
};

const redis = new Redis(URL, { maxRetriesPerRequest: 1 });
const fair = createLockClient(redisBackend({ client: redis, prefix: PREFIX, fair: true }), {
  ttlMs: TTL,
});
const unfair = createLockClient(redisBackend({ client: redis, prefix: `${PREFIX}u:` }), {
  ttlMs: TTL,
});
const redlock = new Redlock([redis], { retryCount: -1, retryDelay: 10, retryJitter: 10 });

/** The contenders, by name (the same settings as the redis suite's, see redis.ts). */
const FAIR_PEERS: readonly Peer[] = [
  {
    name: '@dlock/lock-redis fair: true',
    async lock(key) {
      const lock = await fair.acquire(key);
      return () => lock.release();
    },
  },
  {
    name: '@dlock/lock-redis (default)',
    async lock(key) {
      const lock = await unfair.acquire(key);
      return () => lock.release();
    },
  },
  {
    name: 'redis-semaphore Mutex',
    async lock(key) {
      const mutex = new Mutex(redis, `${PREFIX}semaphore:${key}`, {
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
      const lock = await redlock.acquire([`${PREFIX}redlock:${key}`], TTL);
      return () => lock.release();
    },
  },
];

/**
 * Not a lock: the floor of any cross-process FIFO hand-off through Redis. The processes pass one
 * token round a ring, each section's end PUBLISHing it to the next process's channel, so a
 * section waits only for one hop (the releasing process, the server, the next process waking
 * up) and for no lock state at all. A fair lock's hand-off is this hop plus its own work.
 */
const RELAY = 'floor: a raw relay (PUBLISH to the next process; no lock)';
const subscriber = new Redis(URL, { maxRetriesPerRequest: 1 });

async function relayPeer({ key, index, of }: FairRun): Promise<Peer & { end(): Promise<void> }> {
  const channel = (i: number) => `${PREFIX}relay:${key}:${i}`;
  const own = channel(index);
  let tokens = index === 0 ? 1 : 0;
  let wake: (() => void) | undefined;
  const onMessage = (from: string) => {
    if (from !== own) return;
    tokens++;
    wake?.();
  };
  subscriber.on('message', onMessage);
  await subscriber.subscribe(own);
  return {
    name: RELAY,
    async lock() {
      while (tokens === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      tokens--;
      return () => redis.publish(channel((index + 1) % of), '1');
    },
    async end() {
      subscriber.off('message', onMessage);
      await subscriber.unsubscribe(own);
    },
  };
}

const wall = () => performance.timeOrigin + performance.now();

async function run(order: FairRun): Promise<FairReport> {
  const { peer: name, key, sections, startAt } = order;
  // Subscribed before the common start (the run is sent 100 ms ahead of it).
  const relay = name === RELAY ? await relayPeer(order) : undefined;
  const peer = relay ?? FAIR_PEERS.find((p) => p.name === name)!;
  await sleep(Math.max(0, startAt - Date.now()));
  const before = requests;
  const takes: [number, number][] = [];
  for (let i = 0; i < sections; i++) {
    const asked = wall();
    const release = await peer.lock(key);
    takes.push([asked, wall()]);
    await sleep(1);
    await release();
  }
  const finishedAt = wall();
  const sent = requests - before;
  await relay?.end();
  return { takes, finishedAt, requests: sent };
}

if (process.send) {
  await redis.ping();
  process.on('message', (message: FairRun | 'exit') => {
    if (message === 'exit') {
      void Promise.all([fair.close(), unfair.close()]).then(() => {
        redis.disconnect();
        subscriber.disconnect();
        process.disconnect();
      });
      return;
    }
    run(message).then(
      (report) => process.send!(report),
      (error: unknown) => process.send!({ error: String(error) }),
    );
  });
  process.send({ ready: [...FAIR_PEERS.map((p) => p.name), RELAY] });
}
