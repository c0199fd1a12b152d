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
   * Deadlines of calls in flight, in start order. One coarse sweep timer serves them all: a
   * timer per command cost about 8% of the throughput of an uncontended acquire + release.
   * The timeout is the same for every call, so the earliest deadlines are always first.
   */
  private readonly deadlines = new Map<ErrorListener, number>();
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
      let settled = false;
      const finish = () => {
        settled = true;
        this.deadlines.delete(fail);
        this.untrack(fail);
      };
      const fail: ErrorListener = (error) => {
        if (settled) return;
        finish();
        reject(new LockBackendError('redis', operation, error, key));
      };
      if (Number.isFinite(this.timeoutMs)) {
        this.deadlines.set(fail, monotonicNow() + this.timeoutMs);
        this.sweeper ??= setInterval(() => this.sweep(), this.sweepEveryMs).unref();
      }
      if (this.client.status !== 'ready') this.track(fail);
      let promise: Promise<T>;
      try {
        promise = start();
      } catch (error) {
        fail(error as Error);
        return;
      }
      promise.then(
        (value) => {
          if (settled) return;
          finish();
          resolve(value);
        },
        (error: Error) => fail(error),
      );
    });
  }

  private sweep(): void {
    const now = monotonicNow();
    for (const [fail, deadline] of this.deadlines) {
      if (deadline > now) break;
      fail(new RedisCommandTimeoutError(this.timeoutMs, this.client.status));
    }
    if (this.deadlines.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
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
