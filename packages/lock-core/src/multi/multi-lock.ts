import type { Lock, MultiLock } from '../types.js';

/**
 * The handle `acquireAll` returns: its members' own handles (each renewed, lost and released as
 * any lock), one signal for the set, one release for the set.
 */
export class MultiLockHandle implements MultiLock {
  readonly locks: readonly Lock[];
  readonly fencingTokens: ReadonlyMap<string, bigint>;
  /** Made on first read: most sets are released without anyone listening. */
  #signal: AbortSignal | undefined;

  /** `locks` in canonical order (UTF-8 bytes of their keys). */
  constructor(locks: readonly Lock[]) {
    this.locks = Object.freeze([...locks]);
    this.fencingTokens = new Map(locks.map((lock) => [lock.key, lock.fencingToken]));
  }

  /** Aborts with the reason of the first member lost (its `LockLostError`). */
  get signal(): AbortSignal {
    // A member lost before this first read is already aborted, and so is the result.
    this.#signal ??= AbortSignal.any(this.locks.map((lock) => lock.signal));
    return this.#signal;
  }

  get held(): boolean {
    return this.locks.every((lock) => lock.held);
  }

  /**
   * Releases every member at once (one round trip on a pipelining backend, not one per key),
   * waits for all, then reports: a member's backend failure does not keep the others held.
   */
  async release(): Promise<boolean> {
    const outcomes = await Promise.allSettled(this.locks.map((lock) => lock.release()));
    const failures: unknown[] = [];
    let all = true;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') failures.push(outcome.reason);
      else all &&= outcome.value;
    }
    if (failures.length > 0) {
      throw new AggregateError(
        failures,
        `${failures.length} of the ${this.locks.length} locks of the set could not be released (the others were)`,
      );
    }
    return all;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** What `JSON.stringify` and `util.inspect` show: the members' public view, no lease. */
  toJSON(): { keys: string[]; fencingTokens: Record<string, string>; held: boolean } {
    return {
      keys: this.locks.map((lock) => lock.key),
      fencingTokens: Object.fromEntries(
        [...this.fencingTokens].map(([key, token]) => [key, String(token)]),
      ),
      held: this.held,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    return `MultiLock ${inspect(this.toJSON(), options)}`;
  }
}
