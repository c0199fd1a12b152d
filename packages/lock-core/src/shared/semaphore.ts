import type { SharedBackend, SharedState } from '../backend.js';
import type { Client } from '../client.js';
import { monotonicNow, toEpoch } from '../clock.js';
import { LockArgumentError } from '../errors.js';
import { positiveInt, rejectUnknownOptions } from '../option-validators.js';
import type {
  LeaseHolderInfo,
  Permit,
  Semaphore,
  SemaphoreAcquireOptions,
  SemaphoreInfo,
  SemaphoreOptions,
  SemaphoreTryAcquireOptions,
  SemaphoreUsingOptions,
} from '../types.js';

/** The most permits a semaphore may have: far more than any server-side list should carry. */
export const MAX_SEMAPHORE_LIMIT = 1_000_000;

const SEMAPHORE_OPTIONS = ['limit', 'changeLimit'];

/** Validates `locks.semaphore(key, options)`'s options; `LockArgumentError` before any I/O. */
export function semaphoreOptions(options: SemaphoreOptions | undefined): {
  limit: number;
  changeLimit: boolean;
} {
  if (options === undefined) {
    throw new LockArgumentError('semaphore(key, { limit }) needs the number of permits, limit');
  }
  const o = rejectUnknownOptions('semaphore', options, SEMAPHORE_OPTIONS);
  const limit = positiveInt('limit', o.limit, { max: MAX_SEMAPHORE_LIMIT });
  if (o.changeLimit !== undefined && typeof o.changeLimit !== 'boolean') {
    throw new LockArgumentError(`changeLimit must be a boolean, got ${typeof o.changeLimit}`);
  }
  return { limit, changeLimit: o.changeLimit === true };
}

/**
 * `locks.semaphore(key, { limit })`: a key, a limit, and the client's semaphore engine (one per
 * limit, shared by every key: a client on a view of the backend's shared-key operations, so
 * permits wait, renew and dispose exactly as locks do).
 */
export class SemaphoreHandle implements Semaphore {
  constructor(
    readonly engine: Client,
    readonly shared: SharedBackend,
    readonly key: string,
    readonly limit: number,
  ) {}

  acquire(options?: SemaphoreAcquireOptions): Promise<Permit> {
    return this.#call('acquire', options) as Promise<Permit>;
  }

  tryAcquire(options?: SemaphoreTryAcquireOptions): Promise<Permit | null> {
    return this.#call('tryAcquire', options);
  }

  using<T>(
    fn: (signal: AbortSignal, permit: Permit) => Promise<T> | T,
    options?: SemaphoreUsingOptions,
  ): Promise<T> {
    let split: { rest: unknown; permits: number | undefined };
    try {
      split = this.#permits(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.engine.usingLease(this.key, fn, split.rest, split.permits);
  }

  async inspect(): Promise<SemaphoreInfo> {
    const start = monotonicNow();
    const state = await this.shared.inspect('semaphore', this.key);
    const limit = state?.limit ?? this.limit;
    const holders = holdersOf(state, start);
    const held = holders.reduce((sum, holder) => sum + holder.permits, 0);
    return {
      key: this.key,
      limit,
      available: Math.max(0, limit - held),
      holders,
      waiters: state?.waiters,
    };
  }

  #call(kind: 'acquire' | 'tryAcquire', options: unknown): Promise<Permit | null> {
    let split: { rest: unknown; permits: number | undefined };
    try {
      split = this.#permits(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.engine.takeLease(kind, this.key, split.rest, split.permits);
  }

  /** Takes `permits` out of the options (the rest are a lock call's, checked as such). */
  #permits(options: unknown): { rest: unknown; permits: number | undefined } {
    if (typeof options !== 'object' || options === null || !('permits' in options)) {
      return { rest: options, permits: undefined };
    }
    const { permits, ...rest } = options as { permits?: unknown };
    if (permits === undefined) return { rest, permits: undefined };
    const n = positiveInt('permits', permits);
    if (n > this.limit) {
      throw new LockArgumentError(
        `permits (${n}) cannot exceed the semaphore's limit (${this.limit}): such a request could never be granted`,
      );
    }
    return { rest, permits: n };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Semaphore { key: ${JSON.stringify(this.key)}, limit: ${this.limit} }`;
  }
}

/** The leases of a shared key as users see them (the holder's public part only). */
export function holdersOf(state: SharedState | null, start: number): LeaseHolderInfo[] {
  if (!state) return [];
  return state.holders.map((lease) => ({
    holder: lease.owner, // the guarded backend already reduced it to the public part
    permits: lease.permits,
    count: lease.count,
    expiresAt: toEpoch(start + lease.ttlMs),
    fencingToken: lease.fencingToken,
  }));
}
