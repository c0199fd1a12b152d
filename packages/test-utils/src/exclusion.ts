/**
 * The multi-process exclusion test, shared by every backend: N worker processes each run S
 * read-yield-write critical sections on one shared counter file under one lock and log each
 * write's fencing token. Without exclusion, updates get lost (the counter ends short), two
 * processes are inside at once (the O_EXCL marker witnesses it) or tokens go backwards in write
 * order.
 *
 * Test side: `runExclusionWorkers` starts the workers and collects what they wrote;
 * `assertExclusion` checks it. Worker side: a small per-backend script builds its lock client and
 * calls `runCounterSections({ locks, ...counterWorkerConfig() })`.
 */
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep, setImmediate as yieldNow } from 'node:timers/promises';
import { type ManagedProcess, type ProcessExit, spawnNodeWorker } from './processes.js';
import { makeTempDir } from './temp-dir.js';

/** Environment variables the harness sets for each worker (read back by `counterWorkerConfig`). */
const ENV = {
  dir: 'DLOCK_EXCLUSION_DIR',
  key: 'DLOCK_EXCLUSION_KEY',
  sections: 'DLOCK_EXCLUSION_SECTIONS',
} as const;

/** The last stdout line of a worker starts with this, followed by its `CounterSectionsReport`. */
const REPORT_TAG = 'EXCLUSION-REPORT ';

/** The part of a lock client the worker body uses (`@dlock/lock-core`'s `LockClient` fits). */
export interface CounterLocks {
  using(
    key: string,
    fn: (signal: AbortSignal, lock: { readonly fencingToken: bigint }) => Promise<void>,
    options: { waitTimeoutMs: number },
  ): Promise<unknown>;
}

/** Where the shared files are and how much to do; the harness passes these to each worker. */
export interface CounterWorkerConfig {
  /** The lock all workers contend for. */
  readonly key: string;
  /** The shared counter file (holds a decimal number). */
  readonly counterFile: string;
  /** One `token pid value` line is appended per write, inside the critical section. */
  readonly logFile: string;
  /** Created with O_EXCL on entry and removed on exit: failing to create it is an overlap. */
  readonly insideFile: string;
  /** How many critical sections this worker runs. */
  readonly sections: number;
}

export interface CounterSectionsOptions extends CounterWorkerConfig {
  readonly locks: CounterLocks;
  /**
   * How long one `using` call may wait for the lock.
   * @default 60000
   */
  readonly waitTimeoutMs?: number;
}

/** What one worker reports on its last stdout line. */
export interface CounterSectionsReport {
  readonly pid: number;
  readonly sections: number;
  /** Sections that found another process inside (should be 0). */
  readonly overlaps: number;
}

/** The worker's configuration, from the environment `runExclusionWorkers` set. */
export function counterWorkerConfig(env: NodeJS.ProcessEnv = process.env): CounterWorkerConfig {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: start this worker with runExclusionWorkers`);
    return value;
  };
  const dir = read(ENV.dir);
  return {
    key: read(ENV.key),
    counterFile: join(dir, 'counter'),
    logFile: join(dir, 'log'),
    insideFile: join(dir, 'inside'),
    sections: Number(read(ENV.sections)),
  };
}

/**
 * The worker body: prints `READY`, then `sections` times takes the lock, marks itself inside
 * (O_EXCL), reads the counter, yields to the event loop (and every 7th time sleeps 1 ms), writes
 * counter+1, appends `token pid value` to the log, and leaves. Prints its report last. Closing the
 * lock client and the backend's connections stays with the caller.
 */
export async function runCounterSections(
  options: CounterSectionsOptions,
): Promise<CounterSectionsReport> {
  const { locks, key, counterFile, logFile, insideFile, sections } = options;
  const waitTimeoutMs = options.waitTimeoutMs ?? 60_000;
  let overlaps = 0;
  console.log('READY');
  for (let i = 0; i < sections; i++) {
    await locks.using(
      key,
      async (_signal, lock) => {
        // O_EXCL create fails if another process is inside: a direct witness of an overlap.
        let marker: number | undefined;
        try {
          marker = openSync(insideFile, 'wx');
        } catch {
          overlaps++;
        }
        const value = Number(await readFile(counterFile, 'utf8'));
        await yieldNow();
        if (i % 7 === 0) await sleep(1);
        await writeFile(counterFile, String(value + 1));
        await appendFile(logFile, `${lock.fencingToken} ${process.pid} ${value + 1}\n`);
        if (marker !== undefined) {
          closeSync(marker);
          unlinkSync(insideFile);
        }
      },
      { waitTimeoutMs },
    );
  }
  const report: CounterSectionsReport = { pid: process.pid, sections, overlaps };
  console.log(`${REPORT_TAG}${JSON.stringify(report)}`);
  return report;
}

export interface ExclusionRunOptions {
  /** The worker script (TypeScript, run through tsx): builds a lock client, runs `runCounterSections`. */
  readonly workerScript: string;
  readonly processes: number;
  /** Critical sections per process. */
  readonly sections: number;
  /**
   * The lock key the workers contend for.
   * @default 'shared-counter'
   */
  readonly key?: string;
  /** Extra environment for the workers (the backend's connection settings). */
  readonly env?: Record<string, string>;
  /** Extra command-line arguments for the workers. */
  readonly args?: readonly string[];
  /**
   * Worker name prefix (for diagnostics).
   * @default 'counter'
   */
  readonly name?: string;
  /** Every started worker is also pushed here, so an `afterAll` can kill them after a timeout. */
  readonly track?: ManagedProcess[];
}

/** One write as logged by a worker, in write order. */
export interface ExclusionWrite {
  readonly token: bigint;
  readonly pid: number;
  readonly value: number;
}

export interface ExclusionResult {
  readonly workers: readonly {
    readonly name: string;
    readonly pid: number;
    readonly exit: ProcessExit;
    readonly output: string;
    /** Its final report, or undefined if it never printed one. */
    readonly report: CounterSectionsReport | undefined;
  }[];
  /** The counter file's final value. */
  readonly counter: number;
  /** The log, in write order. */
  readonly writes: readonly ExclusionWrite[];
}

/**
 * Starts `processes` workers on fresh shared files (in a temp dir removed afterwards), waits for
 * all of them to exit and returns what they left behind. Workers still running when this throws
 * are killed.
 */
export async function runExclusionWorkers(options: ExclusionRunOptions): Promise<ExclusionResult> {
  const { workerScript, processes, sections, key = 'shared-counter', name = 'counter' } = options;
  const temp = await makeTempDir('dlock-exclusion-');
  const started: ManagedProcess[] = [];
  try {
    await writeFile(join(temp.path, 'counter'), '0');
    await writeFile(join(temp.path, 'log'), '');
    const env = {
      ...options.env,
      [ENV.dir]: temp.path,
      [ENV.key]: key,
      [ENV.sections]: String(sections),
    };
    await Promise.all(
      Array.from({ length: processes }, async (_, i) => {
        const worker = await spawnNodeWorker(workerScript, {
          name: `${name}-${i}`,
          env,
          ...(options.args === undefined ? {} : { args: options.args }),
        });
        started.push(worker);
        options.track?.push(worker);
      }),
    );
    const exits = await Promise.all(started.map((w) => w.exited));
    const workers = started.map((w, i) => {
      const last = w
        .stdoutLines()
        .findLast((line) => line.startsWith(REPORT_TAG))
        ?.slice(REPORT_TAG.length);
      return {
        name: w.name,
        pid: w.pid,
        exit: exits[i]!,
        output: w.output(),
        report: last === undefined ? undefined : (JSON.parse(last) as CounterSectionsReport),
      };
    });
    const counter = Number(await readFile(join(temp.path, 'counter'), 'utf8'));
    const writes = (await readFile(join(temp.path, 'log'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [token, pid, value] = line.split(' ');
        return { token: BigInt(token!), pid: Number(pid), value: Number(value) };
      });
    return { workers, counter, writes };
  } finally {
    await Promise.all(started.map((w) => w.kill()));
    await temp.remove();
  }
}

/**
 * Throws (with the evidence) unless the run shows mutual exclusion: every worker exited 0 and
 * reported no overlap, no update was lost (counter and log both reach processes × sections, the
 * logged values are 1, 2, 3, … in order), fencing tokens strictly increase in write order, and
 * every process made exactly its `sections` writes.
 */
export function assertExclusion(
  result: ExclusionResult,
  expected: { readonly processes: number; readonly sections: number },
): void {
  const { processes, sections } = expected;
  const total = processes * sections;
  const fail = (message: string): never => {
    throw new Error(`exclusion violated: ${message}`);
  };
  if (result.workers.length !== processes) {
    fail(`expected ${processes} workers, ran ${result.workers.length}`);
  }
  for (const worker of result.workers) {
    if (worker.exit.code !== 0 || worker.exit.signal !== null) {
      fail(
        `${worker.name} exited with code ${worker.exit.code}, signal ${worker.exit.signal}. ` +
          `Output:\n${worker.output}`,
      );
    }
    if (worker.report === undefined) fail(`${worker.name} printed no report:\n${worker.output}`);
    if (worker.report!.overlaps !== 0) {
      fail(`${worker.name} found another process inside ${worker.report!.overlaps} time(s)`);
    }
  }
  if (result.counter !== total) {
    fail(`counter is ${result.counter}, expected ${total} (lost updates)`);
  }
  if (result.writes.length !== total) {
    fail(`${result.writes.length} writes logged, expected ${total}`);
  }
  for (const [i, write] of result.writes.entries()) {
    if (write.value !== i + 1) {
      fail(`write ${i} wrote ${write.value}, expected ${i + 1} (read a stale counter)`);
    }
    const previous = result.writes[i - 1];
    if (previous !== undefined && !(write.token > previous.token)) {
      fail(`write ${i} has token ${write.token}, not above the previous write's ${previous.token}`);
    }
  }
  // Every process took part: exclusion was contended, not one process's solo run.
  const perPid = new Map<number, number>();
  for (const write of result.writes) perPid.set(write.pid, (perPid.get(write.pid) ?? 0) + 1);
  if (perPid.size !== processes) fail(`${perPid.size} distinct writers, expected ${processes}`);
  for (const worker of result.workers) {
    const count = perPid.get(worker.pid) ?? 0;
    if (count !== sections) fail(`${worker.name} logged ${count} writes, expected ${sections}`);
  }
}
