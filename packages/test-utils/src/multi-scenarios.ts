/**
 * Cross-process scenario for `acquireAll`, run by every adapter's suite against its real
 * server with real child processes:
 *
 * - `runOppositeOrders`: two processes take the same keys as one set, one asking in the keys'
 *   order and the other in reverse, `rounds` times each. With MultiLock in the callers' order
 *   (Redisson, Curator) they deadlock within a few rounds; with one canonical order both finish.
 *   Each key is held by at most one process at a time, judged from one event log that both
 *   append to (as in shared-scenarios.ts: `+ key pid` after the set was granted, `- key pid`
 *   before its release is sent, one `write` per event, ordered by O_APPEND).
 *
 * Worker side: a per-backend script builds a lock client with `multiWorkerConfig().ttlMs` and
 * calls `runMultiWorker({ locks })`.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ManagedProcess, spawnNodeWorker } from './processes.js';
import { maxOverlap } from './shared-scenarios.js';

const ENV = {
  keys: 'DLOCK_MULTI_KEYS',
  reverse: 'DLOCK_MULTI_REVERSE',
  rounds: 'DLOCK_MULTI_ROUNDS',
  ttl: 'DLOCK_MULTI_TTL_MS',
  log: 'DLOCK_MULTI_LOG',
  start: 'DLOCK_MULTI_START',
  period: 'DLOCK_MULTI_PERIOD_MS',
} as const;

/** The part of a lock client the scenario uses (`@dlock/lock-core`'s `LockClient` fits). */
export interface MultiLocks {
  acquireAll(
    keys: readonly string[],
    options: { waitTimeoutMs: number },
  ): Promise<{ readonly locks: readonly { readonly key: string }[]; release(): Promise<boolean> }>;
}

/** What the harness tells a worker; build the worker's client with `ttlMs`. */
export interface MultiWorkerConfig {
  /** The keys in the order this worker asks for them. */
  readonly keys: readonly string[];
  readonly rounds: number;
  readonly ttlMs: number;
  readonly log: string;
  /** Wall-clock ms (`Date.now()`) when round 0 starts; round r starts `r * periodMs` later. */
  readonly start: number;
  readonly periodMs: number;
}

export function multiWorkerConfig(env: NodeJS.ProcessEnv = process.env): MultiWorkerConfig {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: start this worker with runOppositeOrders`);
    return value;
  };
  const keys = JSON.parse(read(ENV.keys)) as string[];
  return {
    keys: env[ENV.reverse] === '1' ? [...keys].reverse() : keys,
    rounds: Number(read(ENV.rounds)),
    ttlMs: Number(read(ENV.ttl)),
    log: read(ENV.log),
    start: Number(read(ENV.start)),
    periodMs: Number(read(ENV.period)),
  };
}

const WAIT_MS = 60_000;

/**
 * The worker body: `rounds` times take the set (a deadlock would end in a `LockTimeoutError`
 * after a minute and a non-zero exit), log a hold of each key, yield once, release. Prints `DONE`.
 *
 * Both workers start each round on the same wall-clock tick (one machine, one clock), so their
 * acquisitions overlap every round: left to the moment a release happens to wake the other
 * process, they would rarely overlap, and a caller-order MultiLock would pass by luck (it does,
 * on SQLite's polling, without the ticks). A round that overruns its tick starts at once.
 */
export async function runMultiWorker(options: { readonly locks: MultiLocks }): Promise<void> {
  const { keys, rounds, log, start, periodMs } = multiWorkerConfig();
  // Each key's index goes to the log, not the key: keys may contain newlines and spaces.
  const index = new Map([...keys].sort().map((key, i) => [key, i]));
  for (let round = 0; round < rounds; round++) {
    const tick = start + round * periodMs - Date.now();
    if (tick > 0) await new Promise((resolve) => setTimeout(resolve, tick));
    const all = await options.locks.acquireAll(keys, { waitTimeoutMs: WAIT_MS });
    for (const lock of all.locks) appendFileSync(log, `+ ${index.get(lock.key)} ${process.pid}\n`);
    await new Promise((resolve) => setImmediate(resolve));
    for (const lock of all.locks) appendFileSync(log, `- ${index.get(lock.key)} ${process.pid}\n`);
    await all.release();
  }
  console.log('DONE');
}

export interface OppositeOrdersOptions {
  /** Builds the backend's client with `multiWorkerConfig().ttlMs`, calls `runMultiWorker`. */
  readonly workerScript: string;
  /** Extra environment for the workers (the backend's connection settings). */
  readonly env?: Record<string, string>;
  /** The set both processes take (3 keys in the scenario). */
  readonly keys: readonly string[];
  readonly ttlMs: number;
  /** @default 200 */
  readonly rounds?: number;
  /** Time between two rounds' starts (both processes start each round together). @default 20 */
  readonly periodMs?: number;
  /** Started workers are also pushed here, so an `afterAll` can kill them after a timeout. */
  readonly track?: ManagedProcess[];
}

export interface OppositeOrdersReport {
  /** Sets taken, over both processes. */
  readonly sets: number;
  /** The most holders any one key had at once (1 when exclusive). */
  readonly maxOverlap: number;
}

/** Two processes, opposite orders: both finish every round, no key ever held twice at once. */
export async function runOppositeOrders(o: OppositeOrdersOptions): Promise<OppositeOrdersReport> {
  const rounds = o.rounds ?? 200;
  const dir = mkdtempSync(join(tmpdir(), 'dlock-multi-log-'));
  const log = join(dir, 'events');
  appendFileSync(log, '');
  // Room for both workers to start (tsx on a loaded machine); a late one catches up.
  const start = Date.now() + 3_000;
  const workers = await Promise.all(
    [false, true].map((reverse, i) =>
      spawnNodeWorker(o.workerScript, {
        name: `multi-${reverse ? 'reverse' : 'forward'}-${i}`,
        env: {
          ...o.env,
          [ENV.keys]: JSON.stringify(o.keys),
          [ENV.reverse]: reverse ? '1' : '0',
          [ENV.rounds]: String(rounds),
          [ENV.ttl]: String(o.ttlMs),
          [ENV.log]: log,
          [ENV.start]: String(start),
          [ENV.period]: String(o.periodMs ?? 20),
        },
      }).then((worker) => {
        o.track?.push(worker);
        return worker;
      }),
    ),
  );
  const fail = (message: string): never => {
    const output = workers.map((w) => `\n--- ${w.name}:\n${w.output()}`).join('');
    throw new Error(`opposite orders scenario: ${message}${output}`);
  };
  try {
    const exits = await Promise.all(workers.map((w) => w.exited));
    if (exits.some((e) => e.code !== 0)) fail('a worker failed (a deadlock ends in a timeout)');
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const expected = 2 * 2 * rounds * new Set(o.keys).size;
    if (lines.length !== expected) fail(`${lines.length} log lines, expected ${expected}`);
    let most = 0;
    for (let key = 0; key < new Set(o.keys).size; key++) {
      most = Math.max(most, maxOverlap(lines.filter((line) => line.split(' ')[1] === String(key))));
    }
    if (most > 1) fail(`a key was held by ${most} processes at once`);
    return { sets: 2 * rounds, maxOverlap: most };
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    rmSync(dir, { recursive: true, force: true });
  }
}
