import type { AcquireRequest, ExtendResult, LockBackend } from './backend.js';
import { monotonicNow } from './clock.js';
import { publish } from './diagnostics.js';
import { MinHeap } from './heap.js';
import type { Lease } from './lease.js';
import { isRenewed, renewedTtl } from './renewed-ttl.js';

interface Entry {
  readonly at: number;
  readonly lease: Lease;
  readonly version: number;
}

/**
 * One scheduler for every lease of a client: a min-heap of due times and a single timer.
 *
 * Each lease has two kinds of event: its renewal (auto-extended leases, when two thirds of the TTL
 * remain) and its expiry (every lease: when the local estimate runs out without a successful
 * renewal, the lease is lost). Due renewals are gathered into batches, sent with `extendMany`
 * where the backend has it, so 10,000 held locks cost a handful of round trips per period rather
 * than 10,000 timers. The timer is unref'd: a held lock does not by itself keep the process alive.
 */
export class Watchdog {
  readonly #heap = new MinHeap<Entry>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(
    private readonly backend: LockBackend,
    private readonly batchSize: number,
    /** How many leases are held now: stale heap entries beyond a few times this are swept. */
    private readonly liveLeases: () => number,
  ) {}

  schedule(lease: Lease): void {
    if (this.#stopped || lease.state !== 'held') return;
    lease.version++;
    const at = renewable(lease) ? Math.min(lease.renewAt, lease.deadline) : lease.deadline;
    this.#heap.push({ at, lease, version: lease.version });
    if (at < this.#timerAt) this.#arm(at);
    // Released leases leave their entries behind (lazy deletion); sweep them before they pile up.
    if (this.#heap.size > 1024 && this.#heap.size > 4 * this.liveLeases()) {
      this.#heap.retain((e) => e.version === e.lease.version && e.lease.state === 'held');
    }
  }

  unschedule(lease: Lease): void {
    lease.version++;
  }

  stop(): void {
    this.#stopped = true;
    this.#heap.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, at - monotonicNow()));
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = monotonicNow();
    const due: Lease[] = [];
    const later: Lease[] = [];
    for (let top = this.#heap.peek(); top; top = this.#heap.peek()) {
      // Gather renewals due a little later too (a twelfth of the TTL) so that they batch.
      if (top.at > now + top.lease.ttlMs / 12) break;
      this.#heap.pop();
      const lease = top.lease;
      if (top.version !== lease.version || lease.state !== 'held') continue;
      if (now >= lease.deadline) {
        lease.expireIfDue(now);
      } else if (renewable(lease)) {
        due.push(lease);
      } else {
        later.push(lease);
      }
    }
    for (const lease of later) this.schedule(lease);
    for (let i = 0; i < due.length; i += this.batchSize)
      this.#renew(due.slice(i, i + this.batchSize));
    const next = this.#heap.peek();
    if (next && next.at < this.#timerAt) this.#arm(next.at);
  }

  #renew(leases: Lease[]): void {
    const start = monotonicNow();
    const requests: AcquireRequest[] = leases.map((lease) => ({
      key: lease.key,
      owner: lease.owner,
      // Never renew past maxHoldMs: the server lets the lock go when the bound is reached.
      ttlMs: Math.max(1, Math.min(lease.ttlMs, Math.ceil(lease.maxHoldUntil - start))),
    }));
    const results = this.#send(requests);
    const settleAll = (oks: (ExtendResult | Error)[] | undefined, error: unknown): void => {
      for (const [i, lease] of leases.entries())
        this.#settle(lease, start, requests[i]!.ttlMs, oks?.[i], error);
    };
    const inflight = results.then(
      (oks) => settleAll(oks, undefined),
      (error: unknown) => settleAll(undefined, error),
    );
    for (const lease of leases) {
      lease.renewing(inflight);
      // Keep the expiry event armed while the renewal is out: a hung backend must not hide a loss.
      this.schedule(lease);
    }
  }

  async #send(requests: AcquireRequest[]): Promise<(ExtendResult | Error)[]> {
    if (this.backend.extendMany && this.backend.capabilities.batchExtend) {
      return this.backend.extendMany(requests);
    }
    const settled = await Promise.allSettled(
      requests.map((request) => this.backend.extend(request)),
    );
    return settled.map((s) => (s.status === 'fulfilled' ? s.value : toError(s.reason)));
  }

  #settle(
    lease: Lease,
    start: number,
    ttlMs: number,
    answer: ExtendResult | Error | undefined,
    batchError: unknown,
  ): void {
    lease.renewalDone();
    const error = answer instanceof Error ? answer : batchError;
    const ok = !(answer instanceof Error) && isRenewed(answer);
    publish('extend', () => ({
      key: lease.key,
      ok,
      durationMs: monotonicNow() - start,
      error,
      watchdog: true,
    }));
    if (lease.state !== 'held' || this.#stopped) return;
    if (ok) {
      lease.renewed(start, renewedTtl(answer, ttlMs), ttlMs < lease.ttlMs);
    } else if (answer === false) {
      lease.lose('not-held');
    } else {
      // Transient failure: retry soon; the expiry event declares the loss if none succeeds in time.
      lease.renewalFailed(error);
      lease.version++;
      const retryAt = Math.min(monotonicNow() + Math.max(10, lease.ttlMs / 10), lease.deadline);
      this.#heap.push({ at: retryAt, lease, version: lease.version });
      if (retryAt < this.#timerAt) this.#arm(retryAt);
    }
  }
}

/**
 * Renewals stop once the lease reaches maxHoldUntil (the last renewal is capped to end there), so
 * the lease then runs out and is reported lost with reason `max-hold`.
 */
function renewable(lease: Lease): boolean {
  return (
    lease.autoExtend &&
    lease.inflight === undefined &&
    !lease.capped &&
    lease.deadline < lease.maxHoldUntil
  );
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
