/**
 * etcd's `concurrency.Mutex` (mutex.go) on every lock key of one backend.
 *
 * Acquire: one transaction puts a new key of our own directly under the lock's prefix, on the
 * session lease of the lock's TTL, and reads the oldest key there; its create revision R is our
 * place in the queue and, once we are first, the fencing token. First: we hold the lock. Not
 * first: `tryAcquire` deletes its key again at once; `waitAcquire` waits for the deletion of the
 * key created just before R (revision-queue.ts) until no older key is left. Every acquisition
 * has its own key, local or remote, so etcd alone orders the waiters; aborting a wait deletes
 * its key. Release deletes the key (waking the next waiter); extend renews the session and
 * checks the key is still ours; force-release deletes the holder's key whoever it is.
 *
 * Reentrancy: the hold count is in the key's value, changed by compare-and-swap on its mod
 * revision, so an owner re-enters its hold through this backend (`#holds`) or, for an explicit
 * owner shared between clients, through another backend's key (`#reenterHolder`).
 */
import type {
  AcquireRequest,
  AcquireResult,
  ExtendResult,
  LockState,
  OwnerRef,
  ReleaseResult,
} from '@dlock/lock-core';
import { monotonicNow } from '@dlock/lock-core/spi';
import type { DeleteWatch, EtcdDriver, ManyItem, StoredKey } from './driver.js';
import { contenderKey, decodeHolder, encodeHolder, heldBy, queuePrefix } from './keys.js';
import { throwIfAborted } from './pause.js';
import { putOnSession } from './put-on-session.js';
import { reportError } from './report-error.js';
import { type Turn, waitForTurn } from './revision-queue.js';
import { isLeaseNotFound, type Session, SessionPool } from './session.js';

/** Every key refused: the one held here by another owner with its remaining TTL. */
function refuseAll(claims: readonly Claim[], busy: Claim, expiresAt: number): AcquireResult[] {
  const retryAfterMs = Math.max(0, Math.ceil(expiresAt - monotonicNow()));
  return claims.map((c) => (c === busy ? { acquired: false, retryAfterMs } : { acquired: false }));
}

/** Compare-and-swap rounds before a hold-count update gives up under concurrent changes. */
const CAS_ROUNDS = 8;

/** One acquire call. */
export interface Claim {
  readonly key: string;
  readonly owner: string;
  /** The lock's TTL, validated and rounded up to whole seconds. */
  readonly ttl: number;
  /** Monotonic time the call reached the backend: a grant's `ttlMs` counts from here. */
  readonly entered: number;
}

/** A `waitAcquire` call: also when to give up, and what may abort it. */
export interface WaitingClaim extends Claim {
  /** Monotonic deadline (`Infinity`: none). */
  readonly deadline: number;
  /** Any of them aborting ends the wait with its reason. */
  readonly signals: readonly AbortSignal[];
}

/** A lock this backend holds: its key, first in its queue, on a session of this backend. */
interface Hold {
  readonly key: string;
  /** Our key in etcd. */
  readonly etcdKey: string;
  readonly owner: string;
  /** Create revision of our key: the fencing token. */
  readonly token: bigint;
  modRevision: bigint;
  /** Hold count as last written to etcd. */
  count: number;
  /** The lease the key is on: its TTL's, moved to a longer one by a longer renewal. */
  session: Session;
  /** Monotonic time at which the backend deletes the key unless extended. */
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class EtcdMutex {
  readonly #driver: EtcdDriver;
  readonly #prefix: string;
  readonly #sessions: SessionPool;
  /** The locks this backend holds, by lock key. */
  readonly #holds = new Map<string, Hold>();
  /** Open watches of waiting acquisitions, so that closing the backend can cancel them. */
  readonly #watches = new Set<DeleteWatch>();
  /** Makes every key this backend puts unique: a key is never reused, even on a new lease. */
  #sequence = 0;
  /** The last queueing put of each key still in flight (see `#inArrivalOrder`). */
  readonly #queueing = new Map<string, Promise<void>>();

  constructor(driver: EtcdDriver, prefix: string) {
    this.#driver = driver;
    this.#prefix = prefix;
    // Every lock on a lost session is lost: `extend()` now answers false for each of them.
    this.#sessions = new SessionPool(driver, (session) => {
      for (const hold of [...this.#holds.values()]) if (hold.session === session) this.#drop(hold);
    });
  }

  /** The backend's sessions: semaphores and read-write locks put their keys on them too. */
  get sessions(): SessionPool {
    return this.#sessions;
  }

  /** The queue prefix of a lock key under the backend's key prefix. */
  queue(key: string): string {
    return queuePrefix(this.#prefix, key);
  }

  /**
   * The Go Mutex's `TryLock`: first in the queue, or refuse. Unlike `TryLock` it puts no key at
   * all when the queue has one (one transaction either way), so a refused attempt deletes nothing
   * and wakes no watcher of the lock: watching waiters retrying would otherwise wake one another.
   */
  async tryAcquire(claim: Claim): Promise<AcquireResult> {
    const held = this.#holds.get(claim.key);
    const reentered = await this.#reenterOwn(held, claim);
    if (reentered) return reentered;
    if (held && held.owner !== claim.owner) {
      // Held through this backend by another owner: the caller may retry once its TTL ran out.
      return {
        acquired: false,
        retryAfterMs: Math.max(0, Math.ceil(held.expiresAt - monotonicNow())),
      };
    }
    const { session, enqueued } = await this.#enqueue(claim, async (queue, key, value, lease) => {
      const claimed = await this.#driver.enqueueIfFree(queue, key, value, lease);
      // Only keys of lock names nested under this one were there: queue as the Go Mutex does.
      if (!claimed.own && !claimed.first) return this.#driver.enqueue(queue, key, value, lease);
      return claimed;
    });
    const { own, first } = enqueued;
    if (own && (first === undefined || first.key === own.key)) {
      return this.#grant(session, own, claim);
    }
    // Not first: take our key out again at once so it blocks nobody.
    if (own) await session.withdraw('acquire', claim.key, own.key, own.createRevision);
    return this.#reenterHolder(first, claim);
  }

  /**
   * All or nothing on several keys, in one transaction (`driver.acquireMany`): each free key gets
   * a new contender key on the session of its TTL, and each key the owner holds (here, or through
   * another backend) its hold count plus one, guarded by its mod revision; if any key is held by
   * someone else, or changed under us, nothing is written. A queue whose only keys are nested
   * lock names' is free too: the next round then compares against the revision it was read at.
   */
  async tryAcquireMany(claims: readonly Claim[]): Promise<AcquireResult[]> {
    type Plan =
      | { readonly kind: 'fresh' }
      | {
          readonly kind: 'reenter';
          readonly key: string;
          readonly token: bigint;
          modRevision: bigint;
          count: number;
        };
    const plans: Plan[] = [];
    for (const claim of claims) {
      const held = this.#holds.get(claim.key);
      if (held && held.owner !== claim.owner) return refuseAll(claims, claim, held.expiresAt);
      plans.push(
        held
          ? {
              kind: 'reenter',
              key: held.etcdKey,
              token: held.token,
              modRevision: held.modRevision,
              count: held.count,
            }
          : { kind: 'fresh' },
      );
    }
    let freeAt: bigint | undefined;
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const sessions = await Promise.all(
        claims.map((claim, i) =>
          plans[i]!.kind === 'fresh' ? this.#sessions.current(claim.ttl) : undefined,
        ),
      );
      for (const [i, session] of sessions.entries()) {
        const ttl = claims[i]!.ttl;
        if (session && !session.nearlyCovers(monotonicNow() + ttl)) {
          session
            .refresh()
            .catch((error: unknown) => reportError('acquire', claims[i]!.key, error));
        }
      }
      const items: ManyItem[] = claims.map((claim, i) => {
        const plan = plans[i]!;
        if (plan.kind === 'reenter') {
          const value = encodeHolder(claim.owner, plan.count + 1);
          return { reenter: { key: plan.key, modRevision: plan.modRevision, value } };
        }
        const queue = this.queue(claim.key);
        const lease = sessions[i]!.id;
        const key = contenderKey(queue, lease, ++this.#sequence);
        return { fresh: { queue, key, value: encodeHolder(claim.owner, 1), lease } };
      });
      let outcome: Awaited<ReturnType<EtcdDriver['acquireMany']>>;
      try {
        outcome = await this.#driver.acquireMany(items, freeAt);
      } catch (error) {
        // A lease etcd expired just before: the next round opens a new session.
        if (round === 0 && isLeaseNotFound(error)) {
          for (const session of sessions) session?.markLost();
          continue;
        }
        throw error;
      }
      if (outcome.succeeded)
        return this.#grantMany(claims, plans, items, sessions, outcome.revision);
      let blocked = false;
      for (const [i, claim] of claims.entries()) {
        const plan = plans[i]!;
        const kv = outcome.reads[i];
        if (plan.kind === 'reenter') {
          const stored = kv && decodeHolder(kv.value, kv.lease);
          if (kv && stored && heldBy(stored, claim.owner)) {
            // Changed by the owner itself meanwhile: try again with what is stored now.
            plan.modRevision = kv.modRevision;
            plan.count = stored.count;
          } else {
            const local = this.#holds.get(claim.key);
            if (local?.etcdKey === plan.key) this.#drop(local);
            plans[i] = { kind: 'fresh' };
          }
        } else if (kv && heldBy(decodeHolder(kv.value, kv.lease), claim.owner)) {
          // Held by this very owner through another backend: re-enter it there.
          const count = decodeHolder(kv.value, kv.lease).count;
          plans[i] = {
            kind: 'reenter',
            key: kv.key,
            token: kv.createRevision,
            modRevision: kv.modRevision,
            count,
          };
        } else if (kv) {
          blocked = true;
        }
      }
      if (blocked) {
        return claims.map(() => ({ acquired: false }));
      }
      // Only nested names' keys (or nothing any more) in the free queues, as of that revision.
      freeAt = outcome.revision;
    }
    throw new Error('too many concurrent changes to the keys of one tryAcquireMany');
  }

  /** Records the grants and re-entries of a successful `acquireMany` transaction. */
  async #grantMany(
    claims: readonly Claim[],
    plans: readonly (
      | { kind: 'fresh' }
      | { kind: 'reenter'; key: string; token: bigint; count: number }
    )[],
    items: readonly ManyItem[],
    sessions: readonly (Session | undefined)[],
    revision: bigint,
  ): Promise<AcquireResult[]> {
    const results = await Promise.all(
      claims.map(async (claim, i): Promise<AcquireResult> => {
        const plan = plans[i]!;
        const item = items[i]!;
        if (plan.kind === 'fresh' && 'fresh' in item) {
          const { key, value, lease } = item.fresh;
          const own = { key, value, createRevision: revision, modRevision: revision, lease };
          return this.#grant(sessions[i]!, own, claim);
        }
        const local = this.#holds.get(claim.key);
        if (plan.kind === 'reenter' && local?.etcdKey === plan.key) {
          local.modRevision = revision;
          local.count = plan.count + 1;
          local.expiresAt = Math.max(local.expiresAt, monotonicNow() + claim.ttl);
          const ttlMs = await this.#covered(local, claim.entered);
          this.#arm(local);
          return { acquired: true, fencingToken: local.token, reentered: true, ttlMs };
        }
        // Re-entered on another backend's key, whose expiry stays with that backend.
        const token = plan.kind === 'reenter' ? plan.token : 0n;
        return { acquired: true, fencingToken: token, reentered: true, ttlMs: claim.ttl };
      }),
    );
    if (results.every((r) => r.acquired)) return results;
    // A session lost between the transaction and its answer: give back what was taken.
    await Promise.all(
      results.map((r, i) =>
        r.acquired
          ? this.release(claims[i]!).catch((error: unknown) =>
              reportError('acquire', claims[i]!.key, error),
            )
          : undefined,
      ),
    );
    return claims.map(() => ({ acquired: false }));
  }

  /**
   * The Go Mutex's `Lock`: queue a key, wait until every older key is gone, and make sure ours
   * still exists. A timeout, an abort or a failure deletes our key before this call settles.
   */
  async waitAcquire(claim: WaitingClaim): Promise<AcquireResult> {
    const reentered = await this.#reenterOwn(this.#holds.get(claim.key), claim);
    if (reentered) return reentered;
    const { signals, deadline } = claim;
    for (let round = 0; ; round++) {
      if (round === 10 * CAS_ROUNDS) throw new Error(`could not queue in ${this.queue(claim.key)}`);
      throwIfAborted(signals);
      if (monotonicNow() >= deadline) return { acquired: false };
      const { session, enqueued } = await this.#inArrivalOrder(claim.key, () => {
        // Aborted while the puts before it went out: it has put nothing yet, so nothing to undo.
        throwIfAborted(signals);
        return this.#enqueue(claim, (queue, key, value, lease) =>
          this.#driver.enqueue(queue, key, value, lease),
        );
      });
      const { own, first } = enqueued;
      const withdraw = () =>
        session.withdraw('waitAcquire', claim.key, own.key, own.createRevision);
      let turn: Turn = 'first';
      let mine = own;
      try {
        if (
          first &&
          first.key !== own.key &&
          heldBy(decodeHolder(first.value, first.lease), claim.owner)
        ) {
          // Held by this very owner through another backend (an explicit owner shared).
          await withdraw();
          return await this.#reenterHolder(first, claim);
        }
        if (first?.key !== own.key) {
          // A waiter may wait longer than a TTL: keep its lease alive while it is queued.
          const queued = session.waiting();
          const standing = await waitForTurn(
            { driver: this.#driver, watches: this.#watches },
            {
              key: claim.key,
              queue: this.queue(claim.key),
              own: own.key,
              revision: own.createRevision,
              session,
              deadline,
              signals,
            },
          ).finally(queued);
          turn = standing.turn;
          if (standing.own) mine = standing.own;
        }
      } catch (error) {
        // Aborted, closed or failed: leave the queue at once so we block nobody behind us.
        await withdraw();
        throw error;
      }
      if (turn === 'timeout') {
        await withdraw();
        return { acquired: false };
      }
      // Our key vanished (with our session, or deleted by someone): queue again.
      if (turn === 'session-lost') continue;
      const result = await this.#grant(session, mine, claim);
      // The session died just as we got to the front: our key died with it, so queue again.
      if (!result.acquired && session.lost) continue;
      const aborted = signals.find((s) => s.aborted);
      if (aborted && result.acquired) {
        // The grant raced the abort and won: hand the lock straight back.
        await this.release(claim).catch((error: unknown) =>
          reportError('waitAcquire', claim.key, error),
        );
        throw aborted.reason;
      }
      return result;
    }
  }

  /** Gives up one hold count; the last one deletes the key, which wakes the next waiter. */
  async release(request: OwnerRef): Promise<ReleaseResult> {
    const hold = this.#holds.get(request.key);
    if (hold?.owner !== request.owner) {
      // Not held through this backend; the owner may hold it through another one.
      const first = await this.#driver.oldest(this.queue(request.key));
      return first ? this.#releaseShared(first, request.owner) : 'not-held';
    }
    if (hold.session.lost) {
      this.#drop(hold);
      return 'not-held';
    }
    for (let round = 0; round < CAS_ROUNDS; round++) {
      if (hold.count > 1) {
        if (await this.#writeCount(hold, hold.count - 1)) return 'decremented';
      } else {
        let deleted: boolean;
        try {
          deleted = await this.#driver.deleteIfModRevision(hold.etcdKey, hold.modRevision);
        } catch (error) {
          // The caller gave the lock up: keep deleting the key in the background so the next
          // waiter need not wait out the TTL, and report the failure.
          this.#drop(hold);
          void hold.session.withdraw('release', hold.key, hold.etcdKey, hold.token);
          throw error;
        }
        if (deleted) {
          this.#drop(hold);
          return 'released';
        }
      }
      // Changed under us (the same owner re-entering concurrently, or through another backend).
      if (!(await this.#refresh(hold))) return 'not-held';
    }
    throw new Error(`too many concurrent changes to ${hold.etcdKey}`);
  }

  /**
   * Renews each request's hold for `ttls[i]` (already validated): one read of every local key and
   * one keep-alive per session (all the holds of one TTL share it), in parallel. False for a hold
   * that is no longer ours; `{ ttlMs }` when the lease covers less than asked (a keep-alive shared
   * with a batch started a moment earlier, or a TTL longer than the one the lock was acquired
   * with, whose lease it stays on when the move to a longer lease failed).
   */
  async extendMany(
    requests: readonly AcquireRequest[],
    ttls: readonly number[],
  ): Promise<ExtendResult[]> {
    const holds = requests.map((r) => {
      const hold = this.#holds.get(r.key);
      return hold?.owner === r.owner ? hold : undefined;
    });
    // Asked for longer than their lease's TTL: move those keys to a lease of the longer TTL first
    // (rare: a lock is normally renewed with the TTL it was acquired with).
    await Promise.all(
      holds.map(async (hold, i) => {
        if (!hold || hold.session.lost || ttls[i]! <= hold.session.ttlMs) return;
        try {
          await this.#writeCount(hold, hold.count, await this.#sessions.current(ttls[i]!));
        } catch (error) {
          reportError('extend', hold.key, error);
        }
      }),
    );
    const local = holds.filter((h): h is Hold => h !== undefined && !h.session.lost);
    const sessions = [...new Set(local.map((h) => h.session))];
    const started = monotonicNow();
    // Renew the leases with the same round trip as the reads: the keep-alive is what extends the
    // keys on the server, and the caller's new expiry estimate never outlives what it covers.
    const [stored, refreshed] = await Promise.all([
      this.#driver.getMany(local.map((h) => h.etcdKey)),
      Promise.all(
        sessions.map((s) =>
          s.refresh(started).then(
            () => true,
            (e: unknown) => e,
          ),
        ),
      ),
    ]);
    const refreshErrors = new Map(sessions.map((s, i) => [s, refreshed[i]]));
    const results: ExtendResult[] = [];
    for (const [i, request] of requests.entries()) {
      const hold = holds[i];
      if (!hold || hold.session.lost) {
        if (hold) this.#drop(hold);
        // Not held through this backend: true if the owner holds it through another one.
        const first = await this.#driver.oldest(this.queue(request.key));
        const shared = first && heldBy(decodeHolder(first.value, first.lease), request.owner);
        // Our own key on the lost lease may outlive it for a moment: it is not a hold to renew.
        results.push(Boolean(shared) && first?.lease !== hold?.session.id);
        continue;
      }
      const kv = stored[local.indexOf(hold)];
      const ours =
        kv !== undefined &&
        kv.createRevision === hold.token &&
        heldBy(decodeHolder(kv.value, kv.lease), request.owner);
      if (!ours || this.#holds.get(request.key) !== hold) {
        this.#drop(hold);
        results.push(false);
        continue;
      }
      const refreshError = refreshErrors.get(hold.session);
      if (refreshError !== true) {
        if (hold.session.lost) {
          this.#drop(hold);
          results.push(false);
          continue;
        }
        // The key is there but the lease could not be renewed: a transient failure the caller
        // retries; it declares the lock lost if none succeeds in time.
        throw refreshError;
      }
      hold.modRevision = kv.modRevision;
      hold.count = decodeHolder(kv.value, kv.lease).count;
      const ttl = ttls[i]!;
      hold.expiresAt = Math.min(started + ttl, hold.session.guaranteedUntil);
      this.#arm(hold);
      const covered = Math.floor(hold.expiresAt - started);
      results.push(covered >= ttl ? true : { ttlMs: Math.max(1, covered) });
    }
    return results;
  }

  /** The holder: the oldest key of the queue, whoever wrote it. */
  async inspect(key: string): Promise<LockState | null> {
    const first = await this.#driver.oldest(this.queue(key));
    if (!first) return null;
    const holder = decodeHolder(first.value, first.lease);
    const local = this.#holds.get(key);
    const ttlMs =
      local && local.etcdKey === first.key && local.token === first.createRevision
        ? Math.max(0, Math.ceil(local.expiresAt - monotonicNow()))
        : // Held by another process (or on another lease): its lease bounds how long the key lives.
          ((await this.#driver.leaseRemainingMs(first.lease)) ?? 0);
    return {
      key,
      owner: holder.owner,
      count: holder.count,
      ttlMs,
      fencingToken: first.createRevision,
    };
  }

  /**
   * Deletes the holder's key whoever holds it (a dlock owner anywhere, or `etcdctl lock`), which
   * wakes the next waiter. Its lease lives on; the holder learns of it at its next renewal.
   */
  async forceRelease(key: string): Promise<boolean> {
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const first = await this.#driver.oldest(this.queue(key));
      if (!first) return false;
      // Only that incarnation: a key created since belongs to the next holder.
      if (await this.#driver.deleteIfCreateRevision(first.key, first.createRevision)) {
        const local = this.#holds.get(key);
        if (local?.etcdKey === first.key) this.#drop(local);
        return true;
      }
    }
    throw new Error(`too many concurrent changes to ${this.queue(key)}`);
  }

  /**
   * Stops the TTL timers and the watches, then ends every session: etcd deletes every key still
   * on them (held locks, queued waiters).
   */
  async close(): Promise<void> {
    for (const hold of this.#holds.values()) clearTimeout(hold.timer);
    this.#holds.clear();
    const watches = [...this.#watches];
    this.#watches.clear();
    await Promise.all([...watches.map((w) => w.close()), this.#sessions.close()]);
  }

  /**
   * Puts a new key of ours in the lock's queue on the session of its TTL, with `put` (the
   * driver's `enqueue`, or `enqueueIfFree` for a `tryAcquire`). A lease whose guarantee
   * would end well before the new lock's TTL gets a keep-alive sent alongside the put (the same
   * round trip), so the grant can be reported for its full TTL.
   */
  async #enqueue<T>(
    claim: Claim,
    put: (queue: string, key: string, value: string, lease: string) => Promise<T>,
  ): Promise<{ session: Session; enqueued: T }> {
    const queue = this.queue(claim.key);
    // The grant waits for the keep-alive sent alongside (`#covered`).
    return putOnSession(this.#sessions, claim, async (session) => {
      const own = contenderKey(queue, session.id, ++this.#sequence);
      const value = encodeHolder(claim.owner, 1);
      return { session, enqueued: await put(queue, own, value, session.id) };
    });
  }

  /**
   * Runs the queueing puts of one lock key one after another, in the order the calls came. etcd
   * applies requests that are in flight together in any order, so waiters of this backend that
   * arrive together would otherwise get create revisions (their places in the queue) in any
   * order. Only the put waits for the one before it (one round trip), never the wait behind it.
   */
  #inArrivalOrder<T>(key: string, put: () => Promise<T>): Promise<T> {
    const previous = this.#queueing.get(key);
    const run = previous ? previous.then(put) : put();
    // Its own caller gets the put's failure; the next put only needs to know it is over.
    const over = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queueing.set(key, over);
    void over.then(() => {
      if (this.#queueing.get(key) === over) this.#queueing.delete(key);
    });
    return run;
  }

  /** Records the grant of our first key and arms its TTL timer. */
  async #grant(session: Session, own: StoredKey, claim: Claim): Promise<AcquireResult> {
    const hold: Hold = {
      key: claim.key,
      etcdKey: own.key,
      owner: claim.owner,
      token: own.createRevision,
      modRevision: own.modRevision,
      count: 1,
      session,
      expiresAt: monotonicNow() + claim.ttl,
      timer: undefined,
    };
    const previous = this.#holds.get(claim.key);
    // A hold whose key is gone in etcd (we are first), not yet noticed here.
    if (previous) this.#drop(previous);
    this.#holds.set(claim.key, hold);
    this.#arm(hold);
    const ttlMs = await this.#covered(hold, claim.entered);
    if (session.lost || this.#holds.get(claim.key) !== hold) {
      this.#drop(hold);
      return { acquired: false };
    }
    this.#arm(hold);
    return { acquired: true, fencingToken: hold.token, reentered: false, ttlMs };
  }

  /** Re-enters `held` if it is `claim.owner`'s; undefined otherwise or if the hold is gone. */
  async #reenterOwn(held: Hold | undefined, claim: Claim): Promise<AcquireResult | undefined> {
    return held?.owner === claim.owner ? this.#reenter(held, claim) : undefined;
  }

  /** Re-entry by the owner holding the key through this backend: count + 1 in etcd. */
  async #reenter(hold: Hold, claim: Claim): Promise<AcquireResult | undefined> {
    // Asked for longer than its lease's TTL: move the key to a lease of the longer TTL.
    const longer =
      claim.ttl > hold.session.ttlMs ? await this.#sessions.current(claim.ttl) : undefined;
    for (let round = 0; round < CAS_ROUNDS; round++) {
      if (await this.#writeCount(hold, hold.count + 1, longer)) {
        hold.expiresAt = Math.max(hold.expiresAt, monotonicNow() + claim.ttl);
        const ttlMs = await this.#covered(hold, claim.entered);
        this.#arm(hold);
        return { acquired: true, fencingToken: hold.token, reentered: true, ttlMs };
      }
      // The hold is gone: the caller acquires afresh.
      if (!(await this.#refresh(hold))) return undefined;
    }
    throw new Error(`too many concurrent changes to ${hold.etcdKey}`);
  }

  /**
   * Re-enters the queue's holder if it is `claim.owner`: through this backend's hold when the key
   * is ours, else on the key of the backend that holds it (an explicit owner shared between
   * clients), whose expiry stays with that backend.
   */
  async #reenterHolder(first: StoredKey | undefined, claim: Claim): Promise<AcquireResult> {
    const local = this.#holds.get(claim.key);
    if (local?.owner === claim.owner && local.etcdKey === first?.key) {
      return (await this.#reenter(local, claim)) ?? { acquired: false };
    }
    let holder = first;
    for (let round = 0; round < CAS_ROUNDS && holder; round++) {
      const stored = decodeHolder(holder.value, holder.lease);
      if (!heldBy(stored, claim.owner)) return { acquired: false };
      const written = await this.#driver.putIfModRevision(
        holder.key,
        holder.modRevision,
        encodeHolder(claim.owner, stored.count + 1),
      );
      if (written !== undefined) {
        return {
          acquired: true,
          fencingToken: holder.createRevision,
          reentered: true,
          ttlMs: claim.ttl,
        };
      }
      holder = await this.#driver.oldest(this.queue(claim.key));
    }
    if (!holder) return { acquired: false };
    throw new Error(`too many concurrent changes to the hold count of ${this.queue(claim.key)}`);
  }

  /** Gives up one hold of `first`, held by `owner` on another backend's session. */
  async #releaseShared(first: StoredKey, owner: string): Promise<ReleaseResult> {
    let kv: StoredKey | undefined = first;
    for (let round = 0; round < CAS_ROUNDS && kv; round++) {
      const holder = decodeHolder(kv.value, kv.lease);
      if (!heldBy(holder, owner)) return 'not-held';
      if (holder.count > 1) {
        const written = await this.#driver.putIfModRevision(
          kv.key,
          kv.modRevision,
          encodeHolder(owner, holder.count - 1),
        );
        if (written !== undefined) return 'decremented';
      } else if (await this.#driver.deleteIfModRevision(kv.key, kv.modRevision)) {
        return 'released';
      }
      [kv] = await this.#driver.getMany([kv.key]);
      if (kv && kv.createRevision !== first.createRevision) return 'not-held';
    }
    if (!kv) return 'not-held';
    throw new Error(`too many concurrent changes to ${first.key}`);
  }

  /**
   * Writes a new hold count (and moves the key to `session`'s lease, if given) if nothing changed
   * the key since we last saw it.
   */
  async #writeCount(hold: Hold, count: number, session?: Session): Promise<boolean> {
    const moving = session !== undefined && session !== hold.session ? session : undefined;
    const written = await this.#driver.putIfModRevision(
      hold.etcdKey,
      hold.modRevision,
      encodeHolder(hold.owner, count),
      moving?.id,
    );
    if (written === undefined) return false;
    hold.modRevision = written;
    hold.count = count;
    if (moving) hold.session = moving;
    return true;
  }

  /** Re-reads a hold from etcd; drops it and returns false when it is no longer ours. */
  async #refresh(hold: Hold): Promise<boolean> {
    const [kv] = await this.#driver.getMany([hold.etcdKey]);
    if (
      !kv ||
      kv.createRevision !== hold.token ||
      !heldBy(decodeHolder(kv.value, kv.lease), hold.owner)
    ) {
      this.#drop(hold);
      return false;
    }
    hold.modRevision = kv.modRevision;
    hold.count = decodeHolder(kv.value, kv.lease).count;
    return true;
  }

  /**
   * Milliseconds from `entered` that both the hold's TTL and the lease cover: the core measures a
   * grant's expiry from when it called us, so this includes any time spent waiting, and never
   * exceeds what etcd guarantees. Renews the lease first if its guarantee falls well short
   * (joining the keep-alive the enqueue sent, if any), and moves the hold's own expiry back to
   * what is covered: up to a twentieth of the TTL less than asked, when a keep-alive sent just
   * before covers it.
   */
  async #covered(hold: Hold, entered: number): Promise<number> {
    const session = hold.session;
    if (!session.nearlyCovers(hold.expiresAt)) {
      await session
        .refresh(entered)
        .catch((error: unknown) => reportError('acquire', hold.key, error));
    }
    hold.expiresAt = Math.min(hold.expiresAt, session.guaranteedUntil);
    return Math.max(1, Math.floor(hold.expiresAt - entered));
  }

  /**
   * (Re)arms the timer that deletes the key when the hold's TTL passes without an extend. A lease
   * is shared by every lock of its TTL, and one lock's renewal (or a queued waiter) keeps it alive
   * for all, so without this an abandoned lock (never extended, never released) would outlive its
   * TTL for as long as its neighbours on the lease are renewed.
   */
  #arm(hold: Hold): void {
    clearTimeout(hold.timer);
    hold.timer = setTimeout(
      () => {
        hold.timer = undefined;
        if (this.#holds.get(hold.key) !== hold) return;
        this.#drop(hold);
        void hold.session.withdraw('extend', hold.key, hold.etcdKey, hold.token);
      },
      Math.min(2 ** 31 - 1, Math.max(0, hold.expiresAt - monotonicNow())),
    );
    hold.timer.unref();
  }

  /** Forgets a hold locally. */
  #drop(hold: Hold): void {
    clearTimeout(hold.timer);
    hold.timer = undefined;
    if (this.#holds.get(hold.key) === hold) this.#holds.delete(hold.key);
  }
}
