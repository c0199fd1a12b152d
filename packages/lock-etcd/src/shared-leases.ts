/**
 * Semaphores and read-write locks on etcd: revision-ordered contender keys under the primitive's
 * own prefix (layout in shared-keys.ts, grant rules and the fencing argument in shared-rules.ts),
 * on the backend's session leases (session.ts, shared with the mutex: one lease per TTL class).
 *
 * Each owner of a key has one contender key through this backend (an `Entry`), put by its first
 * request; a refused request with `queue: true` keeps it as its waiter-queue entry, so its create
 * revision is its place in line until it is granted, abandoned, or its lease ends. The value holds
 * the hold counts (for read-write, of both modes), changed by compare-and-swap on its mod
 * revision. As in the mutex, every lease of one TTL shares one etcd lease, so each hold (and each
 * waiting entry) also has a local deadline: past it, unless renewed, the backend deletes the key.
 *
 * After every read, and so after every wake-up, a waiter first checks that its own key is still
 * there with the create revision it was put at: a key whose lease was revoked or expired while it
 * waited is never taken for a grant (etcd-io/etcd#16221); the wait queues again at the back.
 */
import { LockError, LockLimitError, LockUpgradeError } from '@dlock/lock-core';
import {
  type AcquireResult,
  type ExtendResult,
  type LeaseAcquireRequest,
  type LeaseKind,
  type LeaseRef,
  type LeaseState,
  monotonicNow,
  type ReleaseResult,
  type SharedState,
  type WatchHandle,
} from '@dlock/lock-core/spi';
import type { DeleteWatch, EtcdDriver, SharedQueueRead, StoredKey } from './driver.js';
import { throwIfAborted } from './pause.js';
import { putOnSession } from './put-on-session.js';
import { reportError } from './report-error.js';
import type { Session, SessionPool } from './session.js';
import {
  decodeReadWrite,
  decodeSemaphore,
  encodeReadWrite,
  encodeSemaphore,
  type Family,
  familyOf,
  type ReadWriteValue,
  type SemaphoreValue,
  sharedContenderKey,
  sharedQueue,
} from './shared-keys.js';
import {
  type Contender,
  readWriteGrants,
  semaphoreGrants,
  semaphoreLimit,
} from './shared-rules.js';
import { type PauseContext, type PauseTarget, pauseShared } from './shared-wait.js';

/** Compare-and-swap rounds before an update gives up under concurrent changes. */
const CAS_ROUNDS = 8;
/** Re-read this soon after etcd failed to answer a waiter. */
const RETRY_MS = 250;

/** One call, with its TTL rounded up to whole seconds (the session lease's). */
export interface SharedClaim extends LeaseAcquireRequest {
  readonly ttl: number;
  /** Monotonic time the call reached the backend: a grant's `ttlMs` counts from here. */
  readonly entered: number;
}

export interface SharedWaitClaim extends SharedClaim {
  readonly deadline: number;
  readonly signals: readonly AbortSignal[];
}

type Value = SemaphoreValue | ReadWriteValue;

/** One owner's contender key of one semaphore or read-write key, through this backend. */
interface Entry {
  readonly id: string;
  readonly family: Family;
  readonly key: string;
  readonly owner: string;
  readonly queue: string;
  readonly etcdKey: string;
  /** Create revision of the key: its queue place and every grant's fencing token. */
  readonly token: bigint;
  modRevision: bigint;
  value: Value;
  session: Session;
  /** The kinds this owner holds, each with its local deadline (monotonic). */
  readonly holds: Map<LeaseKind, number>;
  /** While it waits: the deadline of its waiter lease (renewed by each retry). */
  waitingUntil: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

type Standing =
  | { readonly state: 'lost' }
  | { readonly state: 'granted' }
  | { readonly state: 'waiting'; readonly pause: PauseTarget | undefined };

const entryId = (family: Family, key: string, owner: string) => `${family}\0${key}\0${owner}`;

function decode(family: Family, kv: StoredKey): Value {
  return family === 'semaphore'
    ? decodeSemaphore(kv.value, kv.lease)
    : decodeReadWrite(kv.value, kv.lease);
}

function encode(value: Value): string {
  return 'permits' in value ? encodeSemaphore(value) : encodeReadWrite(value);
}

export class EtcdShared {
  readonly #driver: EtcdDriver;
  readonly #prefix: string;
  readonly #sessions: SessionPool;
  readonly #entries = new Map<string, Entry>();
  readonly #watches = new Set<DeleteWatch>();
  readonly #queueing = new Map<string, Promise<void>>();
  #sequence = 0;

  constructor(driver: EtcdDriver, prefix: string, sessions: SessionPool) {
    this.#driver = driver;
    this.#prefix = prefix;
    this.#sessions = sessions;
    // Every hold and queue entry on a lost session is gone with it.
    sessions.onLost((session) => {
      for (const entry of [...this.#entries.values()]) {
        if (entry.session === session) this.#drop(entry);
      }
    });
  }

  queue(family: Family, key: string): string {
    return sharedQueue(this.#prefix, family, key);
  }

  async tryAcquire(claim: SharedClaim): Promise<AcquireResult> {
    const family = familyOf(claim.kind);
    let entry = await this.#ownEntry(family, claim, 'acquire');
    if (entry && entry.holds.size > 0) return this.#reenter(entry, claim);
    let read: SharedQueueRead;
    if (entry) {
      // The owner's retry: renew its waiter lease (the keep-alive goes with the read).
      const waiting = entry;
      const [reread] = await Promise.all([
        this.#driver.sharedRange(entry.queue, entry.token),
        entry.session.refresh().catch((error: unknown) => {
          reportError('acquire', waiting.key, error);
        }),
      ]);
      read = reread;
    } else {
      const queued = await this.#put(claim, family, claim.queue);
      entry = queued.entry;
      read = queued.read;
    }
    let standing: Standing;
    try {
      standing = await this.#stand(entry, claim, read);
      if (standing.state === 'lost') {
        // Its key vanished with its lease while it waited: never granted on it; line up anew.
        this.#drop(entry);
        const queued = await this.#put(claim, family, claim.queue);
        entry = queued.entry;
        standing = await this.#stand(entry, claim, queued.read);
        if (standing.state === 'lost') return { acquired: false };
      }
      if (standing.state === 'granted') return await this.#grant(entry, claim);
    } catch (error) {
      // A single attempt leaves no key behind (the limit and upgrade errors deleted it already);
      // a queued entry keeps its place for the caller's retry, within its waiter lease.
      if (!claim.queue && entry.holds.size === 0 && this.#live(entry)) {
        await this.#withdraw(entry, 'acquire');
      }
      throw error;
    }
    if (!claim.queue) {
      await this.#withdraw(entry, 'acquire');
      return { acquired: false };
    }
    // Marked as a waiter entry (for inspect, and as the wake-up event of its grant later).
    if (!entry.value.queued && !(await this.#markQueued(entry, true))) return { acquired: false };
    entry.waitingUntil = monotonicNow() + claim.ttl;
    this.#arm(entry);
    // The core retries at least this often, which renews the waiter lease before it lapses.
    return { acquired: false, retryAfterMs: Math.floor(claim.ttl / 3) };
  }

  async waitAcquire(claim: SharedWaitClaim): Promise<AcquireResult> {
    const family = familyOf(claim.kind);
    let entry = await this.#ownEntry(family, claim, 'waitAcquire');
    if (entry && entry.holds.size > 0) return this.#reenter(entry, claim);
    const { signals, deadline } = claim;
    const ctx = (current: Entry): PauseContext => ({
      driver: this.#driver,
      watches: this.#watches,
      session: current.session,
      deadline,
      signals,
    });
    for (let round = 0; ; round++) {
      if (round === 10 * CAS_ROUNDS)
        throw new Error(`could not queue in ${this.queue(family, claim.key)}`);
      throwIfAborted(signals);
      let read: SharedQueueRead;
      if (entry) {
        read = await this.#driver.sharedRange(entry.queue, entry.token);
      } else {
        const queued = await this.#inArrivalOrder(this.queue(family, claim.key), () => {
          // Aborted while the puts before it went out: nothing put yet, nothing to undo.
          throwIfAborted(signals);
          return this.#put(claim, family, true);
        });
        entry = queued.entry;
        read = queued.read;
      }
      const current = entry;
      const queued = current.session.waiting();
      let standing: Standing;
      try {
        standing = await this.#stand(current, claim, read);
        while (standing.state === 'waiting') {
          if (!current.value.queued && !(await this.#markQueued(current, true))) {
            standing = { state: 'lost' };
            break;
          }
          // Its waiter lease is the session's, kept alive in the background while it waits.
          current.waitingUntil = undefined;
          this.#arm(current);
          const woke = await pauseShared(ctx(current), standing.pause);
          if (woke === 'timeout') {
            await this.#withdraw(current, 'waitAcquire');
            return { acquired: false };
          }
          if (woke === 'session-lost') {
            standing = { state: 'lost' };
            break;
          }
          standing = await this.#reread(current, claim, ctx(current));
        }
      } catch (error) {
        // Aborted, closed or failed: leave the queue at once so we block nobody behind us.
        await this.#withdraw(current, 'waitAcquire');
        throw error;
      } finally {
        queued();
      }
      if (standing.state === 'lost') {
        // Its key is gone (its lease revoked or expired): queue again, never grant on it.
        this.#drop(current);
        entry = undefined;
        continue;
      }
      const result = await this.#grant(current, claim);
      if (!result.acquired) {
        entry = undefined;
        continue;
      }
      const aborted = signals.find((s) => s.aborted);
      if (aborted) {
        // The grant raced the abort and won: hand it straight back.
        await this.release(claim).catch((error: unknown) =>
          reportError('waitAcquire', claim.key, error),
        );
        throw aborted.reason;
      }
      return result;
    }
  }

  async extend(ref: LeaseRef, ttl: number): Promise<ExtendResult> {
    const [result] = await this.extendMany([ref], [ttl]);
    return result!;
  }

  /**
   * Renews each lease for `ttls[i]`: one read of every key and one keep-alive per session (all
   * the leases of one TTL share it), in parallel, as the mutex's `extendMany`. False for a lease
   * this backend does not hold any more; `{ ttlMs }` when the session covers less than asked.
   */
  async extendMany(refs: readonly LeaseRef[], ttls: readonly number[]): Promise<ExtendResult[]> {
    const entries = refs.map((ref) => {
      const entry = this.#entries.get(entryId(familyOf(ref.kind), ref.key, ref.owner));
      return entry?.holds.has(ref.kind) && !entry.session.lost ? entry : undefined;
    });
    // Asked for longer than their lease's TTL: move those keys to a lease of that TTL first
    // (rare: a lease is normally renewed with the TTL it was acquired with).
    await Promise.all(
      entries.map(async (entry, i) => {
        if (!entry || ttls[i]! <= entry.session.ttlMs) return;
        try {
          await this.#update(entry, (v) => v, await this.#sessions.current(ttls[i]!));
        } catch (error) {
          reportError('extend', entry.key, error);
        }
      }),
    );
    const local = [...new Set(entries.filter((e): e is Entry => e !== undefined && this.#live(e)))];
    const sessions = [...new Set(local.map((e) => e.session))];
    const started = monotonicNow();
    const [stored, refreshed] = await Promise.all([
      this.#driver.getMany(local.map((e) => e.etcdKey)),
      Promise.all(
        sessions.map((session) =>
          session.refresh(started).then(
            () => true,
            (error: unknown) => error,
          ),
        ),
      ),
    ]);
    const refreshErrors = new Map(sessions.map((session, i) => [session, refreshed[i]]));
    const read = new Map(local.map((entry, i) => [entry, stored[i]]));
    return refs.map((ref, i): ExtendResult => {
      const entry = entries[i];
      if (!entry || !read.has(entry)) return false;
      const kv = read.get(entry);
      if (!kv || kv.createRevision !== entry.token || !this.#live(entry)) {
        this.#drop(entry);
        return false;
      }
      const refreshError = refreshErrors.get(entry.session);
      if (refreshError !== true) {
        if (entry.session.lost) {
          this.#drop(entry);
          return false;
        }
        // The key is there but the lease could not be renewed: a transient failure the caller
        // retries; it declares the lease lost if none succeeds in time.
        throw refreshError;
      }
      if (!entry.holds.has(ref.kind)) return false;
      entry.modRevision = kv.modRevision;
      entry.value = decode(entry.family, kv);
      const ttl = ttls[i]!;
      const expiresAt = Math.min(started + ttl, entry.session.guaranteedUntil);
      entry.holds.set(ref.kind, expiresAt);
      this.#arm(entry);
      const covered = Math.floor(expiresAt - started);
      return covered >= ttl ? true : { ttlMs: Math.max(1, covered) };
    });
  }

  async release(ref: LeaseRef): Promise<ReleaseResult> {
    const entry = this.#entries.get(entryId(familyOf(ref.kind), ref.key, ref.owner));
    if (!entry?.holds.has(ref.kind)) return 'not-held';
    if (entry.session.lost) {
      this.#drop(entry);
      return 'not-held';
    }
    const kind = ref.kind;
    const count = holdCount(entry.value, kind);
    if (count > 1) {
      return (await this.#update(entry, (v) => withCount(v, kind, count - 1)))
        ? 'decremented'
        : 'not-held';
    }
    const others = [...entry.holds.keys()].filter((k) => k !== kind);
    if (others.length > 0) {
      // Releasing the write of a downgraded hold: the key turns to `read` in place, keeping its
      // queue place, so no writer queued behind it slips in while the read is held.
      if (!(await this.#update(entry, (v) => withCount(v, kind, 0)))) return 'not-held';
      entry.holds.delete(kind);
      this.#arm(entry);
      return 'released';
    }
    let deleted: boolean;
    try {
      deleted = await this.#driver.deleteIfCreateRevision(entry.etcdKey, entry.token);
    } catch (error) {
      // The caller gave it up: keep deleting in the background so the next waiter need not wait
      // out the TTL, and report the failure.
      this.#drop(entry);
      void entry.session.withdraw('release', entry.key, entry.etcdKey, entry.token);
      throw error;
    }
    this.#drop(entry);
    return deleted ? 'released' : 'not-held';
  }

  async abandon(ref: LeaseRef): Promise<boolean> {
    const entry = this.#entries.get(entryId(familyOf(ref.kind), ref.key, ref.owner));
    if (!entry || entry.holds.size > 0) return false;
    await this.#withdraw(entry, 'abandon');
    return true;
  }

  async inspect(family: Family, key: string): Promise<SharedState | null> {
    const { contenders } = await this.#driver.sharedRange(this.queue(family, key));
    if (contenders.length === 0) return null;
    const decoded = contenders.map((stored) => ({ stored, value: decode(family, stored) }));
    let limit: number;
    let granted: boolean[];
    if (family === 'semaphore') {
      const sem = decoded as Contender<SemaphoreValue>[];
      limit = semaphoreLimit(sem);
      granted = semaphoreGrants(sem, limit);
    } else {
      limit = Number.POSITIVE_INFINITY;
      granted = readWriteGrants(decoded as Contender<ReadWriteValue>[]);
    }
    const leaseTtls = new Map<string, Promise<number>>();
    const remaining = (c: Contender<Value>, kind: LeaseKind): Promise<number> => {
      const local = this.#entries.get(entryId(family, key, c.value.owner));
      const until = local?.etcdKey === c.stored.key ? local.holds.get(kind) : undefined;
      if (until !== undefined)
        return Promise.resolve(Math.max(0, Math.ceil(until - monotonicNow())));
      let ttl = leaseTtls.get(c.stored.lease);
      if (!ttl) {
        ttl = this.#driver.leaseRemainingMs(c.stored.lease).then((ms) => ms ?? 0);
        leaseTtls.set(c.stored.lease, ttl);
      }
      return ttl;
    };
    // A waiter entry whose turn has come holds nothing until its owner asks again.
    granted = granted.map((g, i) => g && !decoded[i]!.value.queued);
    const holders: Promise<LeaseState>[] = [];
    decoded.forEach((c, i) => {
      if (!granted[i]) return;
      const state = (kind: LeaseKind, count: number, permits: number) =>
        remaining(c, kind).then(
          (ttlMs): LeaseState => ({
            kind,
            owner: c.value.owner,
            permits,
            count,
            ttlMs,
            fencingToken: c.stored.createRevision,
          }),
        );
      const v = c.value;
      if ('permits' in v) {
        holders.push(state('semaphore', v.count, Number.isFinite(v.permits) ? v.permits : limit));
      } else {
        if (v.write > 0) holders.push(state('write', v.write, 1));
        if (v.read > 0) holders.push(state('read', v.read, 1));
      }
    });
    return {
      key,
      limit,
      holders: await Promise.all(holders),
      waiters: granted.filter((g) => !g).length,
    };
  }

  async forceRelease(family: Family, key: string): Promise<boolean> {
    const { contenders } = await this.#driver.sharedRange(this.queue(family, key));
    if (contenders.length === 0) return false;
    // Only those incarnations: a key created since belongs to a newer contender.
    const deleted = await this.#driver.deleteIncarnations(
      contenders.map((c) => ({ key: c.key, createRevision: c.createRevision })),
    );
    for (const entry of [...this.#entries.values()]) {
      if (entry.family === family && entry.key === key) this.#drop(entry);
    }
    return deleted > 0;
  }

  async watch(family: Family, key: string, onRelease: () => void): Promise<WatchHandle> {
    const watch = await this.#driver.watchChanges({ prefix: this.queue(family, key) }, undefined, {
      // A deletion, or a change of an existing key (a write released into a read, a limit
      // rewritten, a waiter granted), may let the head of the queue in; a new key never does.
      onChange: (change) => {
        if (change.type === 'delete' || change.version > 1) onRelease();
      },
      onResync: onRelease,
    });
    this.#watches.add(watch);
    return {
      close: () => {
        this.#watches.delete(watch);
        return watch.close();
      },
    };
  }

  /** Stops timers and watches; the sessions (ended by the mutex's close) take the keys with them. */
  async close(): Promise<void> {
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
    this.#entries.clear();
    const watches = [...this.#watches];
    this.#watches.clear();
    await Promise.all(watches.map((w) => w.close()));
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * The owner's entry an acquire goes on with: one that holds (to re-enter), or one waiting for
   * just this request. An entry on a lost session is dropped; one waiting for another kind than
   * asked now gives up its place, to queue for this one.
   */
  async #ownEntry(
    family: Family,
    claim: SharedClaim,
    operation: 'acquire' | 'waitAcquire',
  ): Promise<Entry | undefined> {
    const entry = this.#entries.get(entryId(family, claim.key, claim.owner));
    if (!entry) return undefined;
    if (entry.session.lost) {
      this.#drop(entry);
      return undefined;
    }
    if (entry.holds.size === 0 && !this.#sameRequest(entry, claim)) {
      await this.#withdraw(entry, operation);
      return undefined;
    }
    return entry;
  }

  /** Puts a new contender key for `claim` on the session of its TTL and reads the queue. */
  async #put(
    claim: SharedClaim,
    family: Family,
    keep: boolean,
  ): Promise<{ entry: Entry; read: SharedQueueRead }> {
    const queue = this.queue(family, claim.key);
    const value: Value =
      family === 'semaphore'
        ? {
            owner: claim.owner,
            count: 1,
            permits: claim.permits,
            limit: claim.limit,
            queued: false,
            foreign: false,
          }
        : {
            owner: claim.owner,
            mode: claim.kind === 'write' ? 'write' : 'read',
            read: claim.kind === 'read' ? 1 : 0,
            write: claim.kind === 'write' ? 1 : 0,
            queued: false,
            foreign: false,
          };
    return putOnSession(this.#sessions, claim, async (session) => {
      const etcdKey = sharedContenderKey(queue, session.id, ++this.#sequence);
      const read = await this.#driver.sharedEnqueue(queue, etcdKey, encode(value), session.id);
      const entry: Entry = {
        id: entryId(family, claim.key, claim.owner),
        family,
        key: claim.key,
        owner: claim.owner,
        queue,
        etcdKey,
        token: read.own.createRevision,
        modRevision: read.own.modRevision,
        value,
        session,
        holds: new Map(),
        waitingUntil: monotonicNow() + claim.ttl,
        timer: undefined,
      };
      const previous = this.#entries.get(entry.id);
      if (previous) this.#drop(previous);
      this.#entries.set(entry.id, entry);
      // Until decided, the key lives at most its TTL even if the caller vanishes.
      if (keep) this.#arm(entry);
      return { entry, read };
    });
  }

  /**
   * Where `entry` stands in `read` (its queue up to its own key): gone, granted, or waiting and
   * for what. Checks the limit (semaphore) and the upgrade rule (read-write) on the way, deleting
   * its key before it throws.
   */
  async #stand(entry: Entry, claim: SharedClaim, read: SharedQueueRead): Promise<Standing> {
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const contenders = read.contenders.map((stored) => ({
        stored,
        value: decode(entry.family, stored),
      }));
      const index = contenders.findIndex((c) => c.stored.key === entry.etcdKey);
      const own = contenders[index];
      if (!own || own.stored.createRevision !== entry.token) return { state: 'lost' };
      entry.modRevision = own.stored.modRevision;
      entry.value = own.value;
      const older = contenders.slice(0, index + 1);
      if (entry.family === 'semaphore') {
        const sem = older as Contender<SemaphoreValue>[];
        const limit = semaphoreLimit(sem);
        if (limit !== claim.limit) {
          if (!claim.changeLimit) {
            await this.#withdraw(entry, 'acquire');
            throw new LockLimitError(claim.key, limit, claim.limit);
          }
          await this.#changeLimit(entry.queue, claim.limit);
          read = await this.#driver.sharedRange(entry.queue, entry.token);
          continue;
        }
        const granted = semaphoreGrants(sem, limit);
        if (granted[index]) return { state: 'granted' };
        const predecessor = sem[index - 1];
        return {
          state: 'waiting',
          pause:
            !predecessor || granted[index - 1]
              ? // First in line behind holders (or alone, over a lowered limit): any holder
                // leaving, or a limit rewritten, may let it in.
                {
                  target: { prefix: entry.queue },
                  fromRevision: read.revision + 1n,
                  wakes: (c) =>
                    c.type === 'delete' || (c.version > 1 && c.createRevision < entry.token),
                }
              : // Behind another waiter: nothing can let it in before that one is in (its queued
                // flag cleared) or gone.
                {
                  target: { key: predecessor.stored.key },
                  fromRevision: read.revision + 1n,
                  wakes: () => true,
                },
        };
      }
      const rw = older as Contender<ReadWriteValue>[];
      if (
        claim.kind === 'write' &&
        rw.some(
          (c, i) =>
            i !== index &&
            !c.value.foreign &&
            c.value.owner === claim.owner &&
            c.value.mode === 'read',
        )
      ) {
        // The same owner reads this key through another client (an explicit owner shared): a
        // write would wait for itself.
        await this.#withdraw(entry, 'acquire');
        throw new LockUpgradeError(claim.key);
      }
      const granted = readWriteGrants(rw);
      if (granted[index]) return { state: 'granted' };
      if (claim.kind === 'write') {
        // Waits for every older key to go: watch the newest one's deletion.
        return {
          state: 'waiting',
          pause: {
            target: { key: rw[index - 1]!.stored.key },
            fromRevision: read.revision + 1n,
            wakes: (c) => c.type === 'delete',
          },
        };
      }
      // A reader waits for the writers before it: the newest one going, or turning to read.
      const writer = rw
        .slice(0, index)
        .reverse()
        .find((c) => c.value.mode === 'write')!;
      return {
        state: 'waiting',
        pause: {
          target: { key: writer.stored.key },
          fromRevision: read.revision + 1n,
          wakes: () => true,
        },
      };
    }
    throw new Error(`too many concurrent limit changes in ${entry.queue}`);
  }

  /** Rewrites every contender's stored limit to `limit`, atomically over the queue. */
  async #changeLimit(queue: string, limit: number): Promise<void> {
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const read = await this.#driver.sharedRange(queue);
      const writes = read.contenders.flatMap((kv) => {
        const v = decodeSemaphore(kv.value, kv.lease);
        if (v.foreign || v.limit === limit) return [];
        return [
          { key: kv.key, modRevision: kv.modRevision, value: encodeSemaphore({ ...v, limit }) },
        ];
      });
      if (writes.length === 0) return;
      if (await this.#driver.rewriteIfUnchanged(queue, read.revision, writes)) return;
    }
    throw new Error(`too many concurrent changes to ${queue}`);
  }

  /**
   * A waiter's re-read after a wake-up. etcd unreachable for a moment (a leader election, a
   * member going away): its key keeps its place while the session lives, so it re-reads shortly
   * instead of failing the wait, for up to the lease TTL (then the session is lost, or the
   * failure is the caller's). Never shortcuts the own-key check: every standing comes from a read.
   */
  async #reread(entry: Entry, claim: SharedClaim, ctx: PauseContext): Promise<Standing> {
    let failingSince: number | undefined;
    for (;;) {
      if (entry.session.lost) return { state: 'lost' };
      try {
        return await this.#stand(
          entry,
          claim,
          await this.#driver.sharedRange(entry.queue, entry.token),
        );
      } catch (error) {
        if (LockError.isInstance(error) || ctx.signals.some((s) => s.aborted)) throw error;
        failingSince ??= monotonicNow();
        if (monotonicNow() - failingSince > entry.session.ttlMs) throw error;
        reportError('waitAcquire', entry.key, error);
        const woke = await pauseShared(ctx, undefined, RETRY_MS);
        if (woke === 'timeout') return { state: 'waiting', pause: undefined };
        if (woke === 'session-lost') return { state: 'lost' };
      }
    }
  }

  /** Sets or clears the value's `queued` flag; false when the key is no longer ours. */
  #markQueued(entry: Entry, queued: boolean): Promise<boolean> {
    return this.#update(entry, (v) => ({ ...v, queued }));
  }

  /** Records the grant of `entry`'s key for the claim's kind. */
  async #grant(entry: Entry, claim: SharedClaim): Promise<AcquireResult> {
    const expiresAt = monotonicNow() + claim.ttl;
    entry.holds.set(claim.kind, expiresAt);
    entry.waitingUntil = undefined;
    this.#arm(entry);
    // No longer a waiter entry; the write also wakes the semaphore waiter queued right behind.
    if (entry.value.queued && !(await this.#markQueued(entry, false))) {
      return { acquired: false };
    }
    const ttlMs = await this.#covered(entry, claim.kind, claim.entered);
    if (!this.#live(entry)) return { acquired: false };
    return { acquired: true, fencingToken: entry.token, reentered: false, ttlMs };
  }

  /** A request of an owner that holds the key through this backend. */
  async #reenter(entry: Entry, claim: SharedClaim): Promise<AcquireResult> {
    const v = entry.value;
    const kind = claim.kind;
    if ('permits' in v && v.limit !== claim.limit) {
      if (!claim.changeLimit) throw new LockLimitError(claim.key, v.limit, claim.limit);
      await this.#changeLimit(entry.queue, claim.limit);
    }
    if (kind === 'write' && !entry.holds.has('write')) throw new LockUpgradeError(claim.key);
    const longer =
      claim.ttl > entry.session.ttlMs ? await this.#sessions.current(claim.ttl) : undefined;
    const held = entry.holds.has(kind);
    const count = held ? holdCount(entry.value, kind) + 1 : 1;
    if (!(await this.#update(entry, (value) => withCount(value, kind, count), longer))) {
      // The key is gone: the caller acquires afresh.
      return this.tryAcquire(claim);
    }
    const until = monotonicNow() + claim.ttl;
    entry.holds.set(kind, Math.max(entry.holds.get(kind) ?? 0, until));
    const ttlMs = await this.#covered(entry, kind, claim.entered);
    this.#arm(entry);
    // A write holder taking the read lock (downgrade) is a new lease beside the write one.
    return { acquired: true, fencingToken: entry.token, reentered: held, ttlMs };
  }

  /**
   * Writes `change(value)` if nothing changed the key since we last saw it, re-reading and
   * retrying when something did (a limit rewrite); moves it to `session`'s lease when given.
   * False when the key is no longer ours.
   */
  async #update(entry: Entry, change: (v: Value) => Value, session?: Session): Promise<boolean> {
    const moving = session !== undefined && session !== entry.session ? session : undefined;
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const next = change(entry.value);
      const written = await this.#driver.putIfModRevision(
        entry.etcdKey,
        entry.modRevision,
        encode(next),
        moving?.id,
      );
      if (written !== undefined) {
        entry.modRevision = written;
        entry.value = next;
        if (moving) entry.session = moving;
        return true;
      }
      const [kv] = await this.#driver.getMany([entry.etcdKey]);
      if (!kv || kv.createRevision !== entry.token) {
        this.#drop(entry);
        return false;
      }
      entry.modRevision = kv.modRevision;
      entry.value = decode(entry.family, kv);
    }
    throw new Error(`too many concurrent changes to ${entry.etcdKey}`);
  }

  /** As the mutex's: what both the hold's TTL and the lease cover, from `entered`. */
  async #covered(entry: Entry, kind: LeaseKind, entered: number): Promise<number> {
    const session = entry.session;
    let expiresAt = entry.holds.get(kind) ?? monotonicNow();
    if (!session.nearlyCovers(expiresAt)) {
      await session
        .refresh(entered)
        .catch((error: unknown) => reportError('acquire', entry.key, error));
    }
    expiresAt = Math.min(expiresAt, session.guaranteedUntil);
    if (entry.holds.has(kind)) entry.holds.set(kind, expiresAt);
    return Math.max(1, Math.floor(expiresAt - entered));
  }

  /** Whether `entry` is still this backend's live entry for its owner. */
  #live(entry: Entry): boolean {
    return !entry.session.lost && this.#entries.get(entry.id) === entry;
  }

  #sameRequest(entry: Entry, claim: SharedClaim): boolean {
    const v = entry.value;
    if ('permits' in v) return v.permits === claim.permits;
    return v.mode === (claim.kind === 'write' ? 'write' : 'read');
  }

  /** Deletes a waiting (or given-up) entry's key and forgets it. */
  async #withdraw(entry: Entry, operation: string): Promise<void> {
    this.#drop(entry);
    await entry.session.withdraw(operation, entry.key, entry.etcdKey, entry.token);
  }

  /**
   * (Re)arms the timer that ends holds and waiter entries whose deadline passed without a
   * renewal: the lease is shared with every other key of its TTL, whose renewals keep it alive.
   */
  #arm(entry: Entry): void {
    clearTimeout(entry.timer);
    const deadlines = [...entry.holds.values()];
    if (entry.waitingUntil !== undefined) deadlines.push(entry.waitingUntil);
    if (deadlines.length === 0) {
      entry.timer = undefined;
      return;
    }
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined;
        if (this.#entries.get(entry.id) !== entry) return;
        this.#expire(entry);
      },
      Math.min(2 ** 31 - 1, Math.max(0, Math.min(...deadlines) - monotonicNow())),
    );
    entry.timer.unref();
  }

  #expire(entry: Entry): void {
    const now = monotonicNow();
    if (entry.waitingUntil !== undefined && entry.waitingUntil <= now && entry.holds.size === 0) {
      void this.#withdraw(entry, 'acquire');
      return;
    }
    const expired = [...entry.holds].filter(([, until]) => until <= now).map(([kind]) => kind);
    for (const kind of expired) entry.holds.delete(kind);
    if (entry.holds.size === 0) {
      void this.#withdraw(entry, 'extend');
      return;
    }
    if (expired.length > 0) {
      // One of two holds ended (read-write): clear its count, keep the other's.
      this.#update(entry, (v) => expired.reduce((w, kind) => withCount(w, kind, 0), v)).catch(
        (error: unknown) => reportError('extend', entry.key, error),
      );
    }
    this.#arm(entry);
  }

  #drop(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
  }

  /** As the mutex's: queueing puts of one queue go out one after another, in call order. */
  #inArrivalOrder<T>(queue: string, put: () => Promise<T>): Promise<T> {
    const previous = this.#queueing.get(queue);
    const run = previous ? previous.then(put) : put();
    const over = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queueing.set(queue, over);
    void over.then(() => {
      if (this.#queueing.get(queue) === over) this.#queueing.delete(queue);
    });
    return run;
  }
}

function holdCount(value: Value, kind: LeaseKind): number {
  if ('permits' in value) return value.count;
  return kind === 'write' ? value.write : value.read;
}

/** `value` with the hold count of `kind` set; a read-write key's mode follows its write count. */
function withCount(value: Value, kind: LeaseKind, count: number): Value {
  if ('permits' in value) return { ...value, count };
  const next = kind === 'write' ? { ...value, write: count } : { ...value, read: count };
  return { ...next, mode: next.write > 0 ? 'write' : 'read' };
}
