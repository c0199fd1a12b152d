import type {
  AcquireOptions,
  HoldOptions,
  Lock,
  LockClient,
  LockInfo,
  ReadWriteLockInfo,
  SemaphoreInfo,
} from '@dlock/lock-core';
import { UsageError } from '../cli-error.js';
import { describeHolder, holderJson } from '../describe-holder.js';
import {
  readWriteJson,
  semaphoreJson,
  summarizeReadWrite,
  summarizeSemaphore,
} from '../describe-shared.js';
import type { RunMode } from './run-mode.js';

/** Who holds the key right now, as `run` reports it while waiting and on a timeout. */
export interface Holders {
  readonly json: Record<string, unknown>;
  readonly human: string;
}

/**
 * The one thing `dlock run` holds while COMMAND runs, whatever the mode: the rest of `run`
 * (watchdog, guardian, signals, exit codes) is the same for all of them.
 */
export interface RunTarget {
  readonly key: string;
  /** For "waiting for …", "acquired …": `"k"`, `a permit of "k"`, `the read lock of "k"`. */
  readonly what: string;
  /** For "LOST …", "could not release …": `the lock "k"`, `the permit of "k"`, `the read lock of "k"`. */
  readonly noun: string;
  /** Fields of the waiting, timeout, acquired and released events in a shared mode (`mode`, `limit`, `permits`); none for the lock. */
  readonly fields: Readonly<Record<string, unknown>>;
  tryAcquire(options: HoldOptions): Promise<Lock | null>;
  acquire(options: AcquireOptions): Promise<Lock>;
  holders(): Promise<Holders>;
  /** Holders for a report that cannot fail (the key alone, when the read failed). */
  unknownHolders(): Holders;
  /** What COMMAND's environment gets besides DLOCK_KEY and DLOCK_FENCING_TOKEN. */
  env(lock: Lock): Record<string, string>;
}

/**
 * The target of `dlock run KEY` in `mode`. Throws at once, before any I/O, when the backend
 * cannot give it (`LockUnsupportedError`, e.g. `--limit 3` on Redlock) or the limit is out of
 * range (`LockArgumentError`).
 */
export function runTarget(client: LockClient, key: string, mode: RunMode): RunTarget {
  switch (mode.kind) {
    case 'lock':
      return {
        key,
        what: `"${key}"`,
        noun: `the lock "${key}"`,
        fields: {},
        tryAcquire: (options) => client.tryAcquire(key, options),
        acquire: (options) => client.acquire(key, options),
        holders: async () => lockHolders(key, await client.inspect(key)),
        unknownHolders: () => lockHolders(key, null),
        env: () => ({}),
      };
    case 'semaphore': {
      const { limit, permits, changeLimit } = mode;
      const semaphore = client.semaphore(key, { limit, changeLimit });
      const some = permits === 1 ? 'a permit' : `${permits} permits`;
      const the = permits === 1 ? 'the permit' : `the ${permits} permits`;
      return {
        key,
        what: `${some} of "${key}" (limit ${limit})`,
        noun: `${the} of "${key}"`,
        fields: { mode: 'semaphore', limit, permits },
        tryAcquire: (options) => semaphore.tryAcquire({ ...options, permits }),
        acquire: (options) => semaphore.acquire({ ...options, permits }),
        holders: async () => semaphoreHolders(await semaphore.inspect()),
        unknownHolders: () => ({ json: { key }, human: 'holders unknown' }),
        env: () => ({ DLOCK_PERMITS: String(permits) }),
      };
    }
    case 'read':
    case 'write': {
      const rw = client.readWriteLock(key);
      const side = rw[mode.kind];
      const noun = `the ${mode.kind} lock of "${key}"`;
      return {
        key,
        what: noun,
        noun,
        fields: { mode: mode.kind },
        tryAcquire: (options) => side.tryAcquire(options),
        acquire: (options) => side.acquire(options),
        holders: async () => readWriteHolders(await rw.inspect()),
        unknownHolders: () => ({ json: { key }, human: 'holders unknown' }),
        env: () => ({}),
      };
    }
  }
}

function lockHolders(key: string, info: LockInfo | null): Holders {
  return { json: holderJson(key, info), human: describeHolder(info) };
}

function semaphoreHolders(info: SemaphoreInfo): Holders {
  return { json: semaphoreJson(info), human: summarizeSemaphore(info) };
}

function readWriteHolders(info: ReadWriteLockInfo): Holders {
  return { json: readWriteJson(info), human: summarizeReadWrite(info) };
}

/**
 * A refusal of a semaphore or read-write request in the CLI's words, as a usage error (exit 64),
 * or undefined for any other error. All three say the invocation cannot succeed as written, and
 * nothing was locked, so retrying it unchanged would not help:
 * - `LockLimitError`: this --limit disagrees with the limit stored by the key's holders/waiters;
 * - `LockUnsupportedError`: the backend has no such primitive (or not with this limit);
 * - `LockUpgradeError`: a read holder asking for the write lock (one dlock run holds one lease
 *   with an owner of its own, so this cannot happen across processes; mapped all the same).
 */
export function sharedRefusal(error: unknown, key: string): UsageError | undefined {
  const { code } = (error ?? {}) as { code?: unknown };
  if (code === 'DLOCK_LIMIT') {
    const { storedLimit, requestedLimit } = error as {
      storedLimit: number;
      requestedLimit: number;
    };
    return new UsageError(
      `"${key}" is a semaphore of limit ${storedLimit} on the server (the limit of those holding or waiting for it), and this dlock asked for --limit ${requestedLimit}: every process using "${key}" must pass the same --limit; to resize it on purpose, pass --change-limit`,
    );
  }
  if (code === 'DLOCK_UNSUPPORTED') {
    return new UsageError(`${(error as Error).message}; nothing was locked`);
  }
  if (code === 'DLOCK_UPGRADE') return new UsageError((error as Error).message);
  return undefined;
}
