import { LockBackendError, monotonicNow } from '@dlock/lock-core';
import type { ErrorListener } from './client-types.js';

/** Anything with an ioredis-style connection status and `error` events. */
export interface ConnectionLike {
  readonly status: string;
  on(event: 'error', listener: ErrorListener): unknown;
  off(event: 'error', listener: ErrorListener): unknown;
}

/** Rejection reason when Redis answers neither with a reply nor with a connection error in time. */
export class RedisCommandTimeoutError extends Error {
  constructor(timeoutMs: number, status: string) {
    super(`Redis did not answer within ${timeoutMs} ms (connection status: ${status})`);
    this.name = 'RedisCommandTimeoutError';
  }
}

/**
 * Runs the backend's own commands so that an unreachable Redis fails fast with the driver's error.
 *
 * By default ioredis queues commands while it is disconnected and retries each one up to 20 times
 * across reconnects, so a lock call against a dead server could hang for many seconds. We must
 * not change the user's client options, so instead:
 * - while the connection is not `ready`, the first connection `error` the client emits (such as
 *   ECONNREFUSED) rejects every pending call, with that error as the cause;
 * - every call has a deadline (`commandTimeoutMs`, checked with a granularity of a tenth of it, at
 *   most 100 ms) for the case where the connection drops mid-command and no error event follows.
 * A call we gave up on may still sit in ioredis' offline queue and run later; for an acquire that
 * means the lock may be taken without anyone knowing, and it then simply expires after its TTL.
 *
 * The error listener is attached only while some call waits on a connection that is not ready,
 * so a healthy client pays nothing and its own "unhandled error" logging is left alone.
 */
export class CommandRunner {
  private readonly pending = new Set<ErrorListener>();
  private listening = false;
  private readonly onClientError: ErrorListener = (error) => {
    for (const fail of [...this.pending]) fail(error);
  };
  /**
   * Calls in flight, in start order, with their deadlines. One coarse sweep timer serves them
   * all: a timer per command cost about 8% of the throughput of an uncontended acquire + release.
   * The timeout is the same for every call, so the earliest deadlines are always first. A call
   * that ends only marks its entry done; the sweep drops done entries from the front. (A Map
   * keyed by the call, deleted from at every reply, cost 2-4 µs a call and grew slower with use.)
   */
  private inFlight: InFlight[] = [];
  private head = 0;
  private compactAt = COMPACT_AT;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly sweepEveryMs: number;

  constructor(
    private readonly client: ConnectionLike,
    private readonly timeoutMs: number,
  ) {
    this.sweepEveryMs = Math.max(5, Math.min(100, Math.floor(timeoutMs / 10)));
  }

  run<T>(operation: string, key: string | undefined, start: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: InFlight = { deadline: 0, done: false, fail: undefined as never };
      const fail: ErrorListener = (error) => {
        if (entry.done) return;
        entry.done = true;
        this.untrack(fail);
        reject(new LockBackendError('redis', operation, error, key));
      };
      entry.fail = fail;
      if (Number.isFinite(this.timeoutMs)) {
        entry.deadline = monotonicNow() + this.timeoutMs;
        // Replies that arrive without the event loop reaching the timers (a burst answered from
        // one socket read) would pile up done entries until the next sweep: drop them here too.
        if (this.inFlight.length >= this.compactAt) this.compact();
        this.inFlight.push(entry);
        this.sweeper ??= setInterval(() => this.sweep(), this.sweepEveryMs).unref();
      }
      const tracked = this.client.status !== 'ready';
      if (tracked) this.track(fail);
      let promise: Promise<T>;
      try {
        promise = start();
      } catch (error) {
        fail(error as Error);
        return;
      }
      promise.then(
        (value) => {
          if (entry.done) return;
          entry.done = true;
          if (tracked) this.untrack(fail);
          resolve(value);
        },
        (error: Error) => fail(error),
      );
    });
  }

  private sweep(): void {
    const now = monotonicNow();
    const queue = this.inFlight;
    let head = this.head;
    for (; head < queue.length; head++) {
      const entry = queue[head]!;
      if (entry.done) continue;
      if (entry.deadline > now) break;
      entry.fail(new RedisCommandTimeoutError(this.timeoutMs, this.client.status));
    }
    if (head === queue.length) {
      this.inFlight = [];
      this.head = 0;
      if (this.sweeper !== undefined) clearInterval(this.sweeper);
      this.sweeper = undefined;
    } else {
      this.head = head;
    }
  }

  private compact(): void {
    this.inFlight = this.inFlight.filter((entry, i) => i >= this.head && !entry.done);
    this.head = 0;
    // Calls really in flight stay: the next compaction waits until as many more were added.
    this.compactAt = Math.max(COMPACT_AT, 2 * this.inFlight.length);
  }

  private track(fail: ErrorListener): void {
    this.pending.add(fail);
    if (!this.listening) {
      this.listening = true;
      this.client.on('error', this.onClientError);
    }
  }

  private untrack(fail: ErrorListener): void {
    if (!this.pending.delete(fail) || this.pending.size > 0 || !this.listening) return;
    this.listening = false;
    this.client.off('error', this.onClientError);
  }
}

/** Entries (done or not) at which `run` first drops the done ones before adding another. */
const COMPACT_AT = 1024;

/** One call in flight: `fail` rejects it (once), `done` once it settled either way. */
interface InFlight {
  deadline: number;
  done: boolean;
  fail: ErrorListener;
}
