import { createHash } from 'node:crypto';
import { monotonicNow } from '@dlock/lock-core/spi';

/** A waiter this backend has queued on the server. */
interface Queued {
  /** Lease-clock start of the attempt the server last refused (and queued) it by. */
  readonly start: number;
  /** When that refusal said to ask again (its start plus `retryAfterMs`). */
  readonly retryAt: number;
  /**
   * Lease-clock time by which the server's waiter lease (and so a grant passed to it) surely
   * still runs: the start of the attempt that last renewed it, plus its TTL. That attempt's
   * script ran after it started, so the server's deadline is no earlier.
   */
  readonly until: number;
  /** The token of a grant a release passed to this waiter, as its message said. */
  token?: bigint;
}

/**
 * The owners this backend has queued on the server, by key, under the digest a fair release
 * publishes (`sha1hex` of the head's owner, then `:` and the grant's token): a release message
 * wakes this process only if the head is one of its own, so one release wakes one process, not
 * every process that waits, and the head takes the grant from the message without asking.
 *
 * An owner is added when a waiting attempt is refused (the server queued it or renewed its
 * entry) and removed when it is granted or abandons; an owner still listed after its entry
 * lapsed costs only a wake-up.
 */
export class QueuedOwners {
  readonly #byKey = new Map<string, Map<string, Queued>>();

  /**
   * The server queued (or kept) `owner` for `key`, by an attempt started at `start` that was
   * refused with `retryAfterMs`.
   */
  add(key: string, owner: string, start: number, ttlMs: number, retryAfterMs: number): void {
    let owners = this.#byKey.get(key);
    if (!owners) {
      owners = new Map();
      this.#byKey.set(key, owners);
    }
    // A grant's message can overtake the reply of the refusal before it (another connection).
    const digest = digestOf(owner);
    const token = owners.get(digest)?.token;
    const queued: Queued = { start, retryAt: start + retryAfterMs, until: start + ttlMs };
    if (token !== undefined) queued.token = token;
    owners.set(digest, queued);
  }

  /** `owner` left `key`'s queue (granted, or gave up). */
  delete(key: string, owner: string): void {
    const owners = this.#byKey.get(key);
    if (!owners?.delete(digestOf(owner)) || owners.size > 0) return;
    this.#byKey.delete(key);
  }

  /**
   * What a message on `key`'s channel is to this process: `ours`, a grant to one of its owners
   * (remembered for `takeGrant`); `theirs`, a grant to another process's; `plain`, anything
   * else (`released` from a force-release, or no message at all after a resubscribe), which
   * every waiter must hear.
   */
  hear(key: string, message: string | undefined): 'ours' | 'theirs' | 'plain' {
    const grant = message === undefined ? null : GRANT.exec(message);
    if (!grant) return 'plain';
    const queued = this.#byKey.get(key)?.get(grant[1]!);
    if (!queued) return 'theirs';
    queued.token = BigInt(grant[2]!);
    return 'ours';
  }

  /**
   * The server's last refusal of `owner` still stands, as far as this process can tell, when no
   * grant's message came for it, every message of the key since before that refusal was heard
   * (`heardSince`) and its retry is not due: then the answer is known without asking (the core
   * asks once more after each new watch, and on every wake-up). Resolves the retry's delay.
   */
  stillRefused(key: string, owner: string, heardSince: number): number | undefined {
    const queued = this.#byKey.get(key)?.get(digestOf(owner));
    if (!queued || queued.token !== undefined || queued.start < heardSince) return undefined;
    const left = queued.retryAt - monotonicNow();
    return left >= 1 ? Math.ceil(left) : undefined;
  }

  /**
   * The grant a release passed to `owner`, if its message came and the grant surely still runs:
   * its token and how long it surely lasts from now (the rest of the waiter lease it was given
   * for). Taken once; the caller claims it on the server.
   */
  takeGrant(key: string, owner: string): { token: bigint; ttlMs: number } | undefined {
    const queued = this.#byKey.get(key)?.get(digestOf(owner));
    if (queued?.token === undefined) return undefined;
    const token = queued.token;
    this.delete(key, owner);
    const ttlMs = Math.floor(queued.until - monotonicNow());
    // Too close to its end to be worth taking blind: ask the server instead.
    return ttlMs >= MIN_TAKE_MS ? { token, ttlMs } : undefined;
  }
}

/** `<40 hex digest>:<token>`, what a fair release publishes. */
const GRANT = /^([0-9a-f]{40}):(\d+)$/;
const MIN_TAKE_MS = 50;

function digestOf(owner: string): string {
  return createHash('sha1').update(owner, 'utf8').digest('hex');
}
