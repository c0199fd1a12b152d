/**
 * Cross-process scenarios for semaphores and read-write locks, run by every adapter's suite
 * against its real server(s) with real child processes:
 *
 * - `runPermitHistory`: K processes loop on one semaphore of limit N; from the intervals they
 *   report, at no instant more than N hold, and N do hold at once at some point.
 * - `runPermitKill`: a process holds the only permit with the watchdog renewing; a contender
 *   waits, is not granted while the holder renews, and is granted within TTL + slack of the
 *   holder's SIGKILL, with a larger token.
 * - `runReaderKill`: a process holds a read lock, a reader of the test process holds one too;
 *   a writer queues; the process is SIGKILLed; the test's reader keeps renewing for two more
 *   TTLs, then releases: the writer must be granted at once, since the dead reader's lease ran
 *   out on its own TTL however long the other reader renewed.
 * - `runWriterUnderReaders`: K processes read in overlapping holds, without pause; a writer in
 *   the test process must still be granted within one reader TTL, and no reader holds beside it.
 *
 * Worker side: a per-backend script builds a lock client and calls `runSharedWorker({ locks })`.
 * Who held when is judged from one event log, a file every process appends to (`+` after a grant
 * resolved, `-` before the release is sent, one `write` each, which O_APPEND orders): so a
 * logged hold lies inside the real one and the log's order is the order of events, with no
 * clock compared across processes (their `performance.timeOrigin`s differ by a millisecond or
 * so, enough to make back-to-back holds look overlapping).
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { eventLog } from './event-log.js';
import { type ManagedProcess, spawnNodeWorker } from './processes.js';

const ENV = {
  mode: 'DLOCK_SHARED_MODE',
  key: 'DLOCK_SHARED_KEY',
  limit: 'DLOCK_SHARED_LIMIT',
  rounds: 'DLOCK_SHARED_ROUNDS',
  holdMs: 'DLOCK_SHARED_HOLD_MS',
  ttl: 'DLOCK_SHARED_TTL_MS',
  log: 'DLOCK_SHARED_LOG',
} as const;

type SharedMode = 'permit-loop' | 'permit-hold' | 'read-hold' | 'read-stream';

interface HeldLike {
  readonly fencingToken: bigint;
  release(): Promise<boolean>;
}

/** The part of a lock client the scenarios use (`@dlock/lock-core`'s `LockClient` fits). */
export interface SharedLocks {
  semaphore(
    key: string,
    options: { limit: number },
  ): {
    acquire(options: { waitTimeoutMs: number; autoExtend?: boolean }): Promise<HeldLike>;
    using(fn: () => Promise<void>, options: { waitTimeoutMs: number }): Promise<unknown>;
  };
  readWriteLock(key: string): {
    readonly read: {
      acquire(options: { waitTimeoutMs: number; autoExtend?: boolean }): Promise<HeldLike>;
      using(fn: () => Promise<void>, options: { waitTimeoutMs: number }): Promise<unknown>;
    };
    readonly write: {
      acquire(options: { waitTimeoutMs: number }): Promise<HeldLike>;
    };
  };
}

/** What the harness tells a worker; build the worker's client with `ttlMs`. */
export interface SharedWorkerConfig {
  readonly mode: SharedMode;
  readonly key: string;
  readonly limit: number;
  readonly rounds: number;
  readonly holdMs: number;
  readonly ttlMs: number;
}

const MODES: readonly SharedMode[] = ['permit-loop', 'permit-hold', 'read-hold', 'read-stream'];

export function sharedWorkerConfig(env: NodeJS.ProcessEnv = process.env): SharedWorkerConfig {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: start this worker with a shared scenario`);
    return value;
  };
  const mode = read(ENV.mode) as SharedMode;
  if (!MODES.includes(mode)) throw new Error(`unknown ${ENV.mode}: ${mode}`);
  return {
    mode,
    key: read(ENV.key),
    limit: Number(env[ENV.limit] ?? 1),
    rounds: Number(env[ENV.rounds] ?? 1),
    holdMs: Number(env[ENV.holdMs] ?? 0),
    ttlMs: Number(read(ENV.ttl)),
  };
}

const now = (): number => performance.timeOrigin + performance.now();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The worker body. `permit-loop`: `rounds` times, hold a permit for `holdMs` under `using`,
 * printing `SPAN <start> <end>`. `permit-hold` / `read-hold`: take a permit / read lock with the
 * watchdog on, print `HELD <token>` and `RENEWED` after each renewal, run until killed.
 * `read-stream`: hold read locks of `holdMs` back to back until killed, printing `SPAN`s.
 */
export async function runSharedWorker(options: { readonly locks: SharedLocks }): Promise<void> {
  const { mode, key, limit, rounds, holdMs } = sharedWorkerConfig();
  const { locks } = options;
  const log = process.env[ENV.log];
  const span = async () => {
    const start = now();
    if (log) appendFileSync(log, `+ ${process.pid}\n`);
    await pause(holdMs);
    if (log) appendFileSync(log, `- ${process.pid}\n`);
    console.log(`SPAN ${start} ${now()}`);
  };
  if (mode === 'permit-loop') {
    const semaphore = locks.semaphore(key, { limit });
    for (let i = 0; i < rounds; i++) await semaphore.using(span, { waitTimeoutMs: 60_000 });
    return;
  }
  if (mode === 'read-stream') {
    const read = locks.readWriteLock(key).read;
    console.log('READING');
    for (;;) await read.using(span, { waitTimeoutMs: 60_000 });
  }
  subscribe('dlock:extend', (message) => {
    const m = message as { ok?: boolean; watchdog?: boolean };
    if (m.ok && m.watchdog) console.log('RENEWED');
  });
  const held =
    mode === 'permit-hold'
      ? await locks.semaphore(key, { limit }).acquire({ autoExtend: true, waitTimeoutMs: 10_000 })
      : await locks.readWriteLock(key).read.acquire({ autoExtend: true, waitTimeoutMs: 10_000 });
  console.log(`HELD ${held.fencingToken}`);
  // Runs until killed; the watchdog's timer is unref'd, so an interval keeps the process alive.
  setInterval(() => {}, 60_000);
  return new Promise<never>(() => {});
}

export interface SharedScenarioBase {
  /** Builds the backend's client with `sharedWorkerConfig().ttlMs`, calls `runSharedWorker`. */
  readonly workerScript: string;
  /** Extra environment for the workers (the backend's connection settings). */
  readonly env?: Record<string, string>;
  readonly key: string;
  readonly ttlMs: number;
  /** Started workers are also pushed here, so an `afterAll` can kill them after a timeout. */
  readonly track?: ManagedProcess[];
}

function fail(scenario: string, message: string, workers: readonly ManagedProcess[] = []): never {
  const output = workers.map((w) => `\n--- ${w.name}:\n${w.output()}`).join('');
  throw new Error(`${scenario} scenario: ${message}${output}`);
}

function startWorker(
  mode: SharedMode,
  o: SharedScenarioBase,
  extra: Partial<Record<keyof typeof ENV, number>> = {},
  index = 0,
  log?: string,
): Promise<ManagedProcess> {
  const env: Record<string, string> = {
    ...o.env,
    ...(log === undefined ? {} : { [ENV.log]: log }),
    [ENV.mode]: mode,
    [ENV.key]: o.key,
    [ENV.ttl]: String(o.ttlMs),
  };
  for (const [name, value] of Object.entries(extra)) {
    env[ENV[name as keyof typeof ENV]] = String(value);
  }
  return spawnNodeWorker(o.workerScript, { name: `shared-${mode}-${index}`, env }).then((w) => {
    o.track?.push(w);
    return w;
  });
}

interface Span {
  readonly start: number;
  readonly end: number;
}

function spansOf(worker: ManagedProcess): Span[] {
  return worker
    .stdoutLines()
    .filter((line) => line.startsWith('SPAN '))
    .map((line) => {
      const [, start, end] = line.split(' ');
      return { start: Number(start), end: Number(end) };
    });
}

/** The most holds open at once in an event log of `+ id` / `- id` lines. */
export function maxOverlap(lines: readonly string[]): number {
  let open = 0;
  let most = 0;
  for (const line of lines) {
    open += line.startsWith('+') ? 1 : -1;
    most = Math.max(most, open);
  }
  return most;
}

export interface PermitHistoryOptions extends SharedScenarioBase {
  readonly limit: number;
  readonly processes: number;
  readonly rounds: number;
  /** How long each hold lasts. @default 30 */
  readonly holdMs?: number;
}

export interface PermitHistoryReport {
  readonly spans: number;
  readonly maxOverlap: number;
}

/** K processes against limit N: at most N at once, and N reached. Throws with the evidence. */
export async function runPermitHistory(o: PermitHistoryOptions): Promise<PermitHistoryReport> {
  const log = eventLog('dlock-shared-log');
  const workers = await Promise.all(
    Array.from({ length: o.processes }, (_, i) =>
      startWorker(
        'permit-loop',
        o,
        { limit: o.limit, rounds: o.rounds, holdMs: o.holdMs ?? 30 },
        i,
        log.path,
      ),
    ),
  );
  try {
    const exits = await Promise.all(workers.map((w) => w.exited));
    if (exits.some((e) => e.code !== 0)) fail('permit history', 'a worker failed', workers);
    const spans = workers.flatMap(spansOf);
    if (spans.length !== o.processes * o.rounds) {
      fail('permit history', `${spans.length} spans, expected ${o.processes * o.rounds}`, workers);
    }
    const most = maxOverlap(log.lines());
    if (most > o.limit) fail('permit history', `${most} holders at once, limit ${o.limit}`);
    if (most < o.limit) {
      fail(
        'permit history',
        `at most ${most} holders at once: the limit ${o.limit} was never reached`,
      );
    }
    return { spans: spans.length, maxOverlap: most };
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    log.done();
  }
}

export interface SharedKillReport {
  /** From the SIGKILL (or, for a reader, the other reader's release) to the grant, in ms. */
  readonly grantedAfterMs: number;
  readonly ttlMs: number;
}

export interface PermitKillOptions extends SharedScenarioBase {
  /** A lock client in the test process on the same backend. */
  readonly contender: SharedLocks;
  /** @default 1500 */
  readonly slackMs?: number;
  /** Renewals the holder must make while the contender waits. @default 3 */
  readonly renewals?: number;
}

async function renewedTimes(worker: ManagedProcess, renewals: number, ttlMs: number) {
  await worker.waitForOutput(new RegExp(`(?:RENEWED\\n[^]*){${renewals}}`), (renewals + 2) * ttlMs);
}

/**
 * A SIGKILLed holder of a limit-1 semaphore's permit: the waiting contender is not granted while
 * the holder renews, and is granted within TTL + slack of the kill with a larger token.
 */
export async function runPermitKill(o: PermitKillOptions): Promise<SharedKillReport> {
  const slackMs = o.slackMs ?? 1_500;
  const renewals = o.renewals ?? 3;
  const worker = await startWorker('permit-hold', o, { limit: 1 });
  try {
    const holderToken = BigInt((await worker.waitForOutput(/HELD (\d+)/, 20_000))[1]!);
    let grantedAt: number | undefined;
    const granted = o.contender
      .semaphore(o.key, { limit: 1 })
      .acquire({ waitTimeoutMs: (renewals + 3) * o.ttlMs + slackMs })
      .then((permit) => {
        grantedAt = performance.now();
        return permit;
      });
    granted.catch(() => {}); // awaited below
    await renewedTimes(worker, renewals, o.ttlMs);
    if (grantedAt !== undefined) fail('permit kill', 'granted while the holder lived', [worker]);
    process.kill(worker.pid, 'SIGKILL');
    const killedAt = performance.now();
    await worker.exited;
    const permit = await granted.catch((error: unknown) =>
      fail('permit kill', `not granted after the kill: ${String(error)}`, [worker]),
    );
    await permit.release();
    const grantedAfterMs = grantedAt! - killedAt;
    if (grantedAfterMs > o.ttlMs + slackMs) {
      fail(
        'permit kill',
        `granted ${Math.round(grantedAfterMs)} ms after the kill, TTL ${o.ttlMs}`,
      );
    }
    if (!(holderToken < permit.fencingToken)) {
      fail('permit kill', `holder token ${holderToken} not below ${permit.fencingToken}`);
    }
    return { grantedAfterMs, ttlMs: o.ttlMs };
  } finally {
    await worker.kill();
  }
}

export type ReaderKillOptions = PermitKillOptions;

/**
 * A SIGKILLed reader while another reader keeps renewing: once the live reader releases (two
 * TTLs after the kill), the queued writer is granted within the slack, because the dead reader's
 * own lease ran out at its TTL.
 */
export async function runReaderKill(o: ReaderKillOptions): Promise<SharedKillReport> {
  const slackMs = o.slackMs ?? 1_500;
  const renewals = o.renewals ?? 3;
  const worker = await startWorker('read-hold', o);
  const rw = o.contender.readWriteLock(o.key);
  try {
    await worker.waitForOutput(/HELD (\d+)/, 20_000);
    const reader = await rw.read.acquire({ autoExtend: true, waitTimeoutMs: 5_000 });
    let grantedAt: number | undefined;
    const granted = rw.write
      .acquire({ waitTimeoutMs: (renewals + 6) * o.ttlMs + slackMs })
      .then((lock) => {
        grantedAt = performance.now();
        return lock;
      });
    granted.catch(() => {}); // awaited below
    await renewedTimes(worker, renewals, o.ttlMs);
    process.kill(worker.pid, 'SIGKILL');
    await worker.exited;
    // The live reader renews past the dead one's TTL, twice over; the writer must still wait.
    await pause(2 * o.ttlMs);
    if (grantedAt !== undefined) fail('reader kill', 'writer granted beside a live reader');
    const releasedAt = performance.now();
    await reader.release();
    const lock = await granted.catch((error: unknown) =>
      fail('reader kill', `writer not granted: ${String(error)}`, [worker]),
    );
    await lock.release();
    const grantedAfterMs = grantedAt! - releasedAt;
    if (grantedAfterMs > slackMs) {
      fail(
        'reader kill',
        `writer granted ${Math.round(grantedAfterMs)} ms after the last live reader left: the dead reader's lease outlived its TTL`,
      );
    }
    return { grantedAfterMs, ttlMs: o.ttlMs };
  } finally {
    await worker.kill();
  }
}

export interface WriterUnderReadersOptions extends SharedScenarioBase {
  readonly contender: SharedLocks;
  /** Reader processes. @default 3 */
  readonly readers?: number;
  /** Each read hold. @default 100 */
  readonly holdMs?: number;
  /** @default 1500 */
  readonly slackMs?: number;
}

/**
 * Readers in K processes hold back to back (their holds overlap, so the key is never free of
 * readers); a writer must be granted within one reader TTL, and no reader span overlaps it.
 */
export async function runWriterUnderReaders(
  o: WriterUnderReadersOptions,
): Promise<SharedKillReport> {
  const readers = o.readers ?? 3;
  const holdMs = o.holdMs ?? 100;
  const slackMs = o.slackMs ?? 1_500;
  const log = eventLog('dlock-shared-log');
  const workers = await Promise.all(
    Array.from({ length: readers }, (_, i) =>
      startWorker('read-stream', o, { holdMs }, i, log.path),
    ),
  );
  try {
    await Promise.all(workers.map((w) => w.waitForOutput(/SPAN /, 20_000)));
    const asked = performance.now();
    const lock = await o.contender
      .readWriteLock(o.key)
      .write.acquire({ waitTimeoutMs: o.ttlMs + slackMs })
      .catch((error: unknown) =>
        fail('writer under readers', `writer starved: ${String(error)}`, workers),
      );
    const grantedAfterMs = performance.now() - asked;
    appendFileSync(log.path, '+ writer\n');
    await pause(holdMs);
    appendFileSync(log.path, '- writer\n');
    const before = workers.map((w) => spansOf(w).length);
    await lock.release();
    // Readers resume after the write: each reports one more span, so every span that could
    // have overlapped the write is in the output before it is checked.
    await Promise.all(
      workers.map((w, i) =>
        w.waitForOutput(new RegExp(`(?:SPAN [^\\n]*\\n[^]*){${before[i]! + 1}}`), 10_000),
      ),
    );
    // From the writer's `+` to its `-`, no reader may be open: count the readers open at the
    // writer's start (their `+` logged, not yet their `-`) and any that start inside.
    const lines = log.lines();
    const begin = lines.indexOf('+ writer');
    const end = lines.indexOf('- writer');
    const open = new Set<string>();
    for (const line of lines.slice(0, begin)) {
      if (line.startsWith('+')) open.add(line.slice(2));
      else open.delete(line.slice(2));
    }
    const inside = lines.slice(begin + 1, end).filter((line) => line.startsWith('+'));
    if (open.size > 0 || inside.length > 0) {
      fail('writer under readers', `readers held beside the writer: ${[...open, ...inside]}`);
    }
    return { grantedAfterMs, ttlMs: o.ttlMs };
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    log.done();
  }
}

/** One line for the test log: the figure the closing notes and docs quote. */
export function describeSharedReport(backend: string, scenario: string, r: SharedKillReport) {
  return `[shared] ${backend} ${scenario}: granted ${Math.round(r.grantedAfterMs)} ms (TTL ${r.ttlMs} ms)`;
}
