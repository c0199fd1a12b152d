import type { ElectionBackend } from '../backend.js';
import { LockNotHeldError } from '../errors.js';
import type { LockHandle } from '../lease.js';
import type { Leadership } from '../types.js';
import { validateValue } from './election-options.js';

/**
 * A won campaign: the lease the election engine holds (renewed by its watchdog, lost like any
 * lock), seen as leadership. The term is the grant's fencing token.
 */
export class LeadershipHandle implements Leadership {
  #value: string;

  constructor(
    readonly name: string,
    readonly lock: LockHandle,
    readonly election: ElectionBackend,
    value: string,
  ) {
    this.#value = value;
  }

  get term(): bigint {
    return this.lock.fencingToken;
  }
  get value(): string {
    return this.#value;
  }
  get signal(): AbortSignal {
    return this.lock.signal;
  }
  get held(): boolean {
    return this.lock.held;
  }
  get expiresAt(): number {
    return this.lock.expiresAt;
  }

  async proclaim(value: string): Promise<void> {
    validateValue(value);
    if (!this.lock.held) throw notLeading(this.name);
    const { lease } = this.lock;
    const ok = await this.election.proclaim({ key: this.name, owner: lease.owner, value });
    if (!ok) {
      // Deposed (expired, resigned elsewhere, forced): the handle must stop claiming to lead.
      lease.lose('not-held');
      throw notLeading(this.name);
    }
    this.#value = value;
  }

  resign(): Promise<boolean> {
    return this.lock.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.resign();
  }

  /** What `util.inspect` and `JSON.stringify` show: never the owner token. */
  toJSON(): { name: string; term: string; value: string; expiresAt: number; held: boolean } {
    return {
      name: this.name,
      term: String(this.term),
      value: this.value,
      expiresAt: this.expiresAt,
      held: this.held,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Leadership ${JSON.stringify(this.toJSON())}`;
  }
}

function notLeading(name: string): LockNotHeldError {
  return new LockNotHeldError(name, `Election "${name}": this candidate no longer leads`);
}
