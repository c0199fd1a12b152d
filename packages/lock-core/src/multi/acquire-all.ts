import type { AcquireResult, Granted, LockBackend } from '../backend.js';
import { monotonicNow } from '../clock.js';
import { reported } from '../diagnostics.js';
import { LockArgumentError, LockClosedError, LockTimeoutError } from '../errors.js';
import type { LockHandle } from '../lease.js';
import type { CallOptions } from '../options.js';
import { planKeys } from './key-plan.js';
import { MultiLockHandle } from './multi-lock.js';

/** What `acquireAll` needs of the client (client.ts). */
export interface MultiHost {
  readonly backend: LockBackend;
  isClosed(): boolean;
  /** The call's options as `acquire` (or `tryAcquire`) validates them; throws `LockArgumentError`. */
  callOptions(kind: 'acquire' | 'tryAcquire', options: unknown): CallOptions;
  assertOpen(): void;
  /** The owner a member acts as: the enclosing `using()` scope's for that key, else a fresh one. */
  ownerFor(key: string): string;
  acquire(key: string, options: object): Promise<LockHandle>;
  tryAcquire(key: string, options: object | undefined): Promise<LockHandle | null>;
  /** A grant `tryAcquireMany` made becomes a handle as any grant does (lease, watchdog, events). */
  adopt(key: string, owner: string, o: CallOptions, start: number, grant: Granted): LockHandle;
}

/**
 * `acquireAll` and `tryAcquireAll` (`kind` `tryAcquire`): the keys in the plan's one global
 * order (key-plan.ts), each batch in one atomic attempt where the backend has `tryAcquireMany`;
 * a refused batch that may wait is taken key by key with the normal `acquire` (local line,
 * watch, native waits, fairness all apply), under one deadline for the whole set. Any failure
 * gives back everything this call took, then throws the original error; a zero wait that finds a
 * key busy leaves nothing held (`tryAcquireAll` then resolves `null`).
 */
export async function takeAll(
  host: MultiHost,
  keys: unknown,
  options: unknown,
  kind: 'acquire' | 'tryAcquire',
): Promise<MultiLockHandle | null> {
  const plan = planKeys(keys, host.backend);
  if (typeof options === 'object' && options !== null && 'owner' in options) {
    throw new LockArgumentError(
      'acquireAll takes no owner option: every member gets an owner of its own',
    );
  }
  const o = host.callOptions(kind, options);
  host.assertOpen();
  if (o.signal?.aborted) throw o.signal.reason;
  const deadline = monotonicNow() + o.waitTimeoutMs;
  const taken: LockHandle[] = [];
  let key = plan.keys[0]!;
  try {
    for (const batch of plan.batches) {
      if (batch.length > 1 && host.backend.tryAcquireMany) {
        const busy = await takeAtOnce(host, batch, o, taken);
        if (busy === undefined) continue;
        key = busy;
        // One attempt and no wait: the set is busy.
        if (o.waitTimeoutMs === 0) throw new LockTimeoutError(key, 0);
      }
      for (key of batch) taken.push(await takeOne(host, key, options, kind, deadline));
    }
  } catch (error) {
    await giveBack(taken);
    if (!LockTimeoutError.isInstance(error)) throw error;
    if (kind === 'tryAcquire') return null;
    throw timedOut(key, o.waitTimeoutMs, taken.length, plan.keys.length);
  }
  const byKey = new Map(taken.map((lock) => [lock.key, lock]));
  return new MultiLockHandle(plan.keys.map((k) => byKey.get(k)!));
}

/** One member, with what is left of the set's deadline as its own wait. */
async function takeOne(
  host: MultiHost,
  key: string,
  options: unknown,
  kind: 'acquire' | 'tryAcquire',
  deadline: number,
): Promise<LockHandle> {
  const own = options as object | undefined;
  if (kind === 'tryAcquire') {
    const lock = await host.tryAcquire(key, own);
    if (!lock) throw new LockTimeoutError(key, 0);
    return lock;
  }
  const waitTimeoutMs = Math.max(0, deadline - monotonicNow());
  return host.acquire(key, { ...own, waitTimeoutMs });
}

/**
 * One all-or-nothing attempt at `batch`: `undefined` when granted, else a key that was refused
 * (one the backend gave a holder's TTL for, where it did: a free key of a refused set is refused
 * too). Not interruptible (one round trip): an abort or the deadline takes effect right after it.
 */
async function takeAtOnce(
  host: MultiHost,
  batch: readonly string[],
  o: CallOptions,
  taken: LockHandle[],
): Promise<string | undefined> {
  // As each single acquire checks before it asks: a closed client or an abort asks no more.
  host.assertOpen();
  if (o.signal?.aborted) throw o.signal.reason;
  const requests = batch.map((key) => ({ key, owner: host.ownerFor(key), ttlMs: o.ttlMs }));
  const start = monotonicNow();
  const results: AcquireResult[] = await host.backend.tryAcquireMany!(requests);
  const all = results.length === requests.length && results.every((r) => r.acquired);
  if (!all || host.isClosed()) {
    // All-or-nothing broken (a backend bug) or closed meanwhile: hand back what was granted.
    results.forEach((result, i) => {
      if (result.acquired)
        host.backend
          .release(requests[i]!)
          .catch(reported('acquireAll: hand back a grant of a refused set', requests[i]!.key));
    });
    if (host.isClosed()) throw new LockClosedError();
    const refused = results.findIndex((r) => !r.acquired && r.retryAfterMs !== undefined);
    return batch[
      refused === -1
        ? Math.max(
            0,
            results.findIndex((r) => !r.acquired),
          )
        : refused
    ];
  }
  requests.forEach(({ key, owner }, i) => {
    taken.push(host.adopt(key, owner, o, start, results[i] as Granted));
  });
  if (o.signal?.aborted) throw o.signal.reason;
  return undefined;
}

/**
 * Releases in reverse order of taking, all sent at once, and waits for them: when the call
 * rejects, nothing of the set is held any more. Failures go to `dlock:error`.
 */
async function giveBack(taken: readonly LockHandle[]): Promise<void> {
  const releases: Promise<unknown>[] = [];
  for (let i = taken.length - 1; i >= 0; i--) {
    const lock = taken[i]!;
    releases.push(
      lock.release().catch(reported('acquireAll: release after the set failed', lock.key)),
    );
  }
  await Promise.all(releases);
}

/** The set's timeout: the whole wait, the key it was waiting for, and how far it got. */
function timedOut(key: string, waitTimeoutMs: number, held: number, of: number) {
  const error = new LockTimeoutError(key, waitTimeoutMs);
  error.message =
    `Timed out after ${waitTimeoutMs} ms waiting for lock "${key}" of a set of ${of}: it is ` +
    `held by another owner (the ${held} keys of the set taken before it were released)`;
  return error;
}
