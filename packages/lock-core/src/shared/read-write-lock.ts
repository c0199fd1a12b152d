import type { SharedBackend } from '../backend.js';
import type { Client } from '../client.js';
import { monotonicNow } from '../clock.js';
import type { Lock, LockMode, ReadWriteLock, ReadWriteLockInfo } from '../types.js';
import { holdersOf } from './semaphore.js';

/**
 * `locks.readWriteLock(key)`: `.read` and `.write` are the client's read and write engines
 * (clients on views of the backend's shared-key operations) bound to the key. The two engines
 * share one reentrancy scope: a read inside `write.using` re-uses the writer's owner (a
 * downgrade the backend grants at once), a write inside `read.using` is refused with
 * `LockUpgradeError` before any I/O.
 */
export class ReadWriteLockHandle implements ReadWriteLock {
  readonly read: LockMode;
  readonly write: LockMode;

  constructor(
    readEngine: Client,
    writeEngine: Client,
    readonly shared: SharedBackend,
    readonly key: string,
  ) {
    this.read = mode(readEngine, key);
    this.write = mode(writeEngine, key);
  }

  async inspect(): Promise<ReadWriteLockInfo> {
    const start = monotonicNow();
    const state = await this.shared.inspect('read-write', this.key);
    const holders = holdersOf(state, start);
    const kinds = state?.holders ?? [];
    return {
      key: this.key,
      writer: holders.find((_, i) => kinds[i]!.kind === 'write') ?? null,
      readers: holders.filter((_, i) => kinds[i]!.kind === 'read'),
      waiters: state?.waiters,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ReadWriteLock { key: ${JSON.stringify(this.key)} }`;
  }
}

function mode(engine: Client, key: string): LockMode {
  return {
    acquire: (options) => engine.takeLease('acquire', key, options, undefined) as Promise<Lock>,
    tryAcquire: (options) => engine.takeLease('tryAcquire', key, options, undefined),
    using: (fn, options) => engine.usingLease(key, fn, options, undefined),
  };
}
