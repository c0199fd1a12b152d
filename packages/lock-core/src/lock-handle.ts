import { toEpoch } from './clock.js';
import { LockNotHeldError } from './errors.js';
import type { Lease } from './lease.js';
import type { Lock, OnLost } from './types.js';
import { validateTtl } from './validate.js';

/** The user's handle on one hold of a lease. */
export class LockHandle implements Lock {
  #released = false;

  constructor(
    readonly lease: Lease,
    readonly onLost: OnLost | undefined,
  ) {
    lease.holds++;
    lease.handles.push(this);
    if (onLost) lease.observe();
  }

  get key(): string {
    return this.lease.key;
  }
  get fencingToken(): bigint {
    return this.lease.fencingToken;
  }
  get signal(): AbortSignal {
    return this.lease.signal;
  }
  get expiresAt(): number {
    return toEpoch(this.lease.deadline);
  }
  get held(): boolean {
    return !this.#released && this.lease.live;
  }

  async extend(ttlMs?: number): Promise<void> {
    const ttl = ttlMs === undefined ? this.lease.ttlMs : validateTtl('ttlMs', ttlMs);
    if (this.#released)
      throw new LockNotHeldError(this.key, `Lock "${this.key}" was released by this handle`);
    await this.lease.extendNow(ttl);
  }

  release(): Promise<boolean> {
    if (this.#released) return Promise.resolve(false);
    this.#released = true;
    this.lease.handles.splice(this.lease.handles.indexOf(this), 1);
    return this.lease.releaseOne();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /**
   * What `util.inspect(lock)`, `console.log(lock)` and `JSON.stringify(lock)` show: never the
   * lease, whose owner token is the secret that releases and extends the lock.
   */
  toJSON(): { key: string; fencingToken: string; expiresAt: number; held: boolean } {
    return {
      key: this.key,
      fencingToken: String(this.fencingToken),
      expiresAt: this.expiresAt,
      held: this.held,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    const { key, fencingToken, expiresAt, held } = this;
    return `Lock ${inspect({ key, fencingToken, expiresAt, held }, options)}`;
  }
}
