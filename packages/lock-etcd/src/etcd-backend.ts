import {
  type AcquireRequest,
  type AcquireResult,
  type BackendCapabilities,
  LockArgumentError,
  type LockBackend,
  LockClosedError,
  type LockState,
  type NativeWaitRequest,
  type OwnerRef,
  type ReleaseResult,
  type WatchHandle,
} from '@dlock/lock-core';
import type { DeleteWatch, EtcdDriver, StoredKey } from './driver.js';
import { createEtcd3Driver } from './etcd3-driver.js';
import { decodeHolder, encodeHolder, heldBy } from './holder-value.js';
import { contenderKey, queuePrefix } from './keys.js';
import { type Hold, Line } from './line.js';
import { type EtcdBackendOptions, type EtcdSettings, resolveOptions } from './options.js';
import { type QueueContext, type Turn, throwIfAborted, waitForTurn } from './revision-queue.js';
import type { Session } from './session.js';
import { SessionKeeper } from './session-keeper.js';
import { CAS_ROUNDS, holdsShared, reenterShared, releaseShared } from './shared-owner.js';
import { Sweeper } from './sweeper.js';

const CAPABILITIES: BackendCapabilities = {
  watch: true,
  nativeWait: true,
  orderedWaiters: true,
  ttlGranularityMs: 1000,
  batchExtend: true,
};

/**
 * etcd backend: etcd's `concurrency.Mutex` algorithm on one session lease per backend.
 *
 * - Each contender puts `${prefix}${key}/${leaseHex}` with the session lease if absent; the
 *   oldest key (lowest create revision) holds the lock, and its create revision is the fencing
 *   token. A waiter watches only the key created just before its own, so a release wakes one
 *   waiter (FIFO, no herd).
 * - The session lease is kept alive by the driver; a lock's own TTL is enforced by this backend,
 *   which deletes the key when the TTL passes without `extend()` (otherwise the keepalive would
 *   keep an abandoned lock forever). A crashed process's locks end with its lease.
 */
export class EtcdBackend implements LockBackend {
  readonly name = 'etcd';
  readonly capabilities = CAPABILITIES;
  readonly #driver: EtcdDriver;
  readonly #settings: EtcdSettings;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #lines = new Map<string, Line>();
  readonly #watches = new Set<DeleteWatch>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #closing = new AbortController();
  readonly #sessions: SessionKeeper;
  readonly #sweeper: Sweeper;
  readonly #queueContext: QueueContext;
  #closed: Promise<void> | undefined;

  constructor(driver: EtcdDriver, settings: EtcdSettings, onClose?: () => Promise<void>) {
    this.#driver = driver;
    this.#settings = settings;
    this.#onClose = onClose;
    this.#sweeper = new Sweeper(driver);
    this.#queueContext = { driver, watches: this.#watches, giveUpAfterMs: settings.sessionTtlMs };
    this.#sessions = new SessionKeeper(driver, settings.sessionTtlMs, (session) =>
      this.#sessionLost(session),
    );
  }

  async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    const entered = performance.now();
    const ttl = this.#ttl(request.ttlMs);
    const line = this.#line(request.key);
    try {
      return await line.exclusive(async () => {
        if (line.hold?.owner === request.owner) {
          const reentered = await this.#reenter(line, line.hold, ttl, entered);
          if (reentered) return reentered;
        }
        if (line.hold) return refusedBy(line.hold);
        if (line.busy) return { acquired: false };
        line.busy = true;
        try {
          return await this.#attempt(line, request.owner, ttl, entered);
        } finally {
          line.busy = false;
          line.promote();
        }
      });
    } finally {
      this.#tidy(line);
    }
  }

  async waitAcquire(request: NativeWaitRequest): Promise<AcquireResult> {
    const entered = performance.now();
    const { signal } = request;
    if (signal.aborted) throw signal.reason;
    const ttl = this.#ttl(request.ttlMs);
    const deadline = entered + request.timeoutMs;
    const signals = [signal, this.#closing.signal];
    const line = this.#line(request.key);
    try {
      if (line.hold?.owner === request.owner) {
        const reentered = await line.exclusive(async () =>
          line.hold?.owner === request.owner
            ? this.#reenter(line, line.hold, ttl, entered)
            : undefined,
        );
        if (reentered) return reentered;
      }
      if (!(await line.takeTurn(deadline, signals))) return { acquired: false };
      try {
        return await this.#queueAndWait(line, request.owner, ttl, entered, deadline, signals);
      } finally {
        line.busy = false;
        line.promote();
      }
    } finally {
      this.#tidy(line);
    }
  }

  extend(request: AcquireRequest): Promise<boolean> {
    return this.#extendAll([request]).then((results) => results[0]!);
  }

  extendMany(requests: readonly AcquireRequest[]): Promise<boolean[]> {
    return this.#extendAll(requests);
  }

  async release(request: OwnerRef): Promise<ReleaseResult> {
    this.#open();
    const line = this.#line(request.key);
    try {
      return await line.exclusive(async () => {
        const hold = line.hold;
        if (hold?.owner === request.owner) return this.#releaseHold(line, hold);
        // Not held through this backend; the owner may hold it through another one (an explicit
        // owner shared between clients).
        const shared = await holdsShared(this.#driver, this.#queue(request.key), request.owner);
        return shared ? releaseShared(this.#driver, shared, request.owner) : 'not-held';
      });
    } finally {
      this.#tidy(line);
    }
  }

  async inspect(key: string): Promise<LockState | null> {
    this.#open();
    const first = await this.#driver.oldest(this.#queue(key));
    if (!first) return null;
    const holder = decodeHolder(first.value, first.lease);
    const local = this.#lines.get(key)?.hold;
    const ttlMs =
      local && local.etcdKey === first.key && local.token === first.createRevision
        ? Math.max(0, Math.ceil(local.expiresAt - performance.now()))
        : // Held by another process: its session lease bounds how long the key can live.
          ((await this.#driver.leaseRemainingMs(first.lease)) ?? 0);
    return {
      key,
      owner: holder.owner,
      count: holder.count,
      ttlMs,
      fencingToken: first.createRevision,
    };
  }

  async watch(key: string, onRelease: () => void): Promise<WatchHandle> {
    this.#open();
    const watch = await this.#driver.watchDeletes(
      { prefix: this.#queue(key) },
      undefined,
      // Any deletion in the queue may have freed the lock (a spurious wake-up is harmless), and
      // after a resync the waiter must re-check in case a release went by unseen.
      { onDelete: onRelease, onResync: onRelease },
    );
    if (this.#closed) {
      await watch.close();
      throw new LockClosedError();
    }
    this.#watches.add(watch);
    return {
      close: () => {
        this.#watches.delete(watch);
        return watch.close();
      },
    };
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  // --- acquiring -------------------------------------------------------------------------------

  /** One Mutex attempt that never waits: first in the queue, or withdraw and refuse. */
  async #attempt(line: Line, owner: string, ttl: number, entered: number): Promise<AcquireResult> {
    const queue = this.#queue(line.key);
    for (let round = 0; ; round++) {
      if (round === CAS_ROUNDS) throw new Error(`could not clear a stale key of ours in ${queue}`);
      const session = await this.#sessions.current();
      const own = contenderKey(queue, session.lease.id);
      const enqueued = await this.#driver.enqueue(
        queue,
        own,
        encodeHolder(owner, 1),
        session.lease.id,
      );
      if (!enqueued.created) {
        // A leftover of ours (a hold that expired locally, a waiter whose withdrawal is still
        // being retried): nobody uses it any more, so clear it and start over.
        await this.#driver.deleteIfCreateRevision(own, enqueued.own.createRevision);
        continue;
      }
      if (enqueued.first?.key === own) {
        return this.#grant(line, session, enqueued.own, owner, ttl, entered);
      }
      // Not first: take our key out again at once so it blocks nobody.
      await this.#sweeper.withdraw(own, enqueued.own.createRevision, session);
      const first = enqueued.first;
      if (first && heldBy(decodeHolder(first.value, first.lease), owner)) {
        return reenterShared(this.#driver, queue, owner, ttl);
      }
      return { acquired: false };
    }
  }

  /** The Mutex: queue a key, wait until every older key is gone, confirm ours still exists. */
  async #queueAndWait(
    line: Line,
    owner: string,
    ttl: number,
    entered: number,
    deadline: number,
    signals: readonly AbortSignal[],
  ): Promise<AcquireResult> {
    const queue = this.#queue(line.key);
    for (let round = 0; ; round++) {
      if (round === 10 * CAS_ROUNDS) throw new Error(`could not queue in ${queue}`);
      throwIfAborted(signals);
      if (performance.now() >= deadline) return { acquired: false };
      const session = await this.#sessions.current();
      const own = contenderKey(queue, session.lease.id);
      const enqueued = await this.#driver.enqueue(
        queue,
        own,
        encodeHolder(owner, 1),
        session.lease.id,
      );
      const revision = enqueued.own.createRevision;
      if (!enqueued.created) {
        await this.#driver.deleteIfCreateRevision(own, revision);
        continue;
      }
      let turn: Turn;
      let mine = enqueued.own;
      try {
        const first = enqueued.first;
        if (first && first.key !== own && heldBy(decodeHolder(first.value, first.lease), owner)) {
          await this.#sweeper.withdraw(own, revision, session);
          return await reenterShared(this.#driver, queue, owner, ttl);
        }
        if (first?.key === own) {
          turn = 'first';
        } else {
          const standing = await waitForTurn(this.#queueContext, {
            queue,
            own,
            revision,
            session,
            deadline,
            signals,
          });
          turn = standing.turn;
          if (standing.own) mine = standing.own;
        }
      } catch (error) {
        // Aborted, closed or failed: leave the queue at once so we block nobody behind us.
        await this.#sweeper.withdraw(own, revision, session);
        throw error;
      }
      if (turn === 'timeout') {
        await this.#sweeper.withdraw(own, revision, session);
        return { acquired: false };
      }
      // Our key vanished with our session while we waited: queue again on a fresh session.
      if (turn === 'session-lost') continue;
      const result = await this.#grant(line, session, mine, owner, ttl, entered);
      // The session died just as we got to the front: our key died with it, so queue again.
      if (!result.acquired && session.lost) continue;
      const aborted = signals.find((s) => s.aborted);
      if (aborted && result.acquired && line.hold) {
        // The grant raced the abort and won: hand the lock straight back.
        await this.#releaseHold(line, line.hold).catch(() => {});
        throw aborted.reason;
      }
      return result;
    }
  }

  /** Records the grant and arms the TTL timer. */
  async #grant(
    line: Line,
    session: Session,
    own: StoredKey,
    owner: string,
    ttl: number,
    entered: number,
  ): Promise<AcquireResult> {
    const hold: Hold = {
      key: line.key,
      etcdKey: own.key,
      owner,
      token: own.createRevision,
      modRevision: own.modRevision,
      count: 1,
      session,
      expiresAt: performance.now() + ttl,
      timer: undefined,
    };
    line.hold = hold;
    this.#arm(line, hold);
    const ttlMs = await this.#covered(hold, entered);
    if (session.lost || line.hold !== hold) {
      this.#drop(line, hold);
      return { acquired: false };
    }
    return { acquired: true, fencingToken: hold.token, reentered: false, ttlMs };
  }

  /** Re-entry by the owner holding the key through this backend: count + 1 in etcd. */
  async #reenter(
    line: Line,
    hold: Hold,
    ttl: number,
    entered: number,
  ): Promise<AcquireResult | undefined> {
    for (let round = 0; round < CAS_ROUNDS; round++) {
      if (await this.#writeCount(hold, hold.count + 1)) {
        hold.expiresAt = Math.max(hold.expiresAt, performance.now() + ttl);
        this.#arm(line, hold);
        const ttlMs = await this.#covered(hold, entered);
        return { acquired: true, fencingToken: hold.token, reentered: true, ttlMs };
      }
      // The hold is gone: the caller acquires afresh.
      if (!(await this.#refreshHold(line, hold))) return undefined;
    }
    throw new Error(`too many concurrent changes to ${hold.etcdKey}`);
  }

  // --- holding ---------------------------------------------------------------------------------

  async #extendAll(requests: readonly AcquireRequest[]): Promise<boolean[]> {
    this.#open();
    const ttls = requests.map((r) => this.#ttl(r.ttlMs));
    const holds = requests.map((r) => {
      const hold = this.#lines.get(r.key)?.hold;
      return hold?.owner === r.owner ? hold : undefined;
    });
    const local = holds.filter((h): h is Hold => h !== undefined && !h.session.lost);
    const sessions = [...new Set(local.map((h) => h.session))];
    const started = performance.now();
    // Refresh the session lease with the same round trip as the reads: after a successful
    // extend the lease is guaranteed for a full session TTL, which is at least the lock's TTL, so
    // the caller's new expiry estimate never outlives the key.
    const [stored, refreshed] = await Promise.all([
      this.#driver.getMany(local.map((h) => h.etcdKey)),
      Promise.all(
        sessions.map((s) =>
          s.lease.refresh().then(
            () => true,
            (e: unknown) => e,
          ),
        ),
      ),
    ]);
    const refreshErrors = new Map(sessions.map((s, i) => [s, refreshed[i]]));
    const results: boolean[] = [];
    for (const [i, request] of requests.entries()) {
      const hold = holds[i];
      if (!hold || hold.session.lost) {
        if (hold) this.#drop(this.#lines.get(request.key), hold);
        // Not held through this backend: true if the owner holds it through another one.
        const queue = this.#queue(request.key);
        results.push((await holdsShared(this.#driver, queue, request.owner)) !== undefined);
        continue;
      }
      const kv = stored[local.indexOf(hold)];
      const line = this.#lines.get(request.key);
      const ours =
        kv !== undefined &&
        kv.createRevision === hold.token &&
        heldBy(decodeHolder(kv.value, kv.lease), request.owner);
      if (!ours || line?.hold !== hold) {
        this.#drop(line, hold);
        results.push(false);
        continue;
      }
      const refreshError = refreshErrors.get(hold.session);
      if (refreshError !== true) {
        if (hold.session.lost) {
          this.#drop(line, hold);
          results.push(false);
          continue;
        }
        // The key is there but the lease could not be renewed: a transient failure the caller
        // retries; it declares the lock lost if none succeeds in time.
        throw refreshError;
      }
      hold.modRevision = kv.modRevision;
      hold.count = decodeHolder(kv.value, kv.lease).count;
      hold.expiresAt = started + ttls[i]!;
      this.#arm(line, hold);
      results.push(true);
    }
    return results;
  }

  async #releaseHold(line: Line, hold: Hold): Promise<ReleaseResult> {
    if (hold.session.lost) {
      this.#drop(line, hold);
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
          this.#drop(line, hold);
          void this.#sweeper.withdraw(hold.etcdKey, hold.token, hold.session);
          throw error;
        }
        if (deleted) {
          this.#drop(line, hold);
          return 'released';
        }
      }
      // Changed under us (the same explicit owner re-entering through another backend).
      if (!(await this.#refreshHold(line, hold))) return 'not-held';
    }
    throw new Error(`too many concurrent changes to ${hold.etcdKey}`);
  }

  /** Writes a new hold count if nothing changed the key since we last saw it. */
  async #writeCount(hold: Hold, count: number): Promise<boolean> {
    const written = await this.#driver.putIfModRevision(
      hold.etcdKey,
      hold.modRevision,
      encodeHolder(hold.owner, count),
    );
    if (written === undefined) return false;
    hold.modRevision = written;
    hold.count = count;
    return true;
  }

  /** Re-reads a hold from etcd; drops it and returns false when it is no longer ours. */
  async #refreshHold(line: Line, hold: Hold): Promise<boolean> {
    const [kv] = await this.#driver.getMany([hold.etcdKey]);
    if (
      !kv ||
      kv.createRevision !== hold.token ||
      !heldBy(decodeHolder(kv.value, kv.lease), hold.owner)
    ) {
      this.#drop(line, hold);
      return false;
    }
    hold.modRevision = kv.modRevision;
    hold.count = decodeHolder(kv.value, kv.lease).count;
    return true;
  }

  /**
   * Milliseconds from `entered` that both the hold's TTL and the session lease cover: the core
   * measures a grant's expiry from when it called us, so this includes any time spent waiting,
   * and never exceeds what etcd guarantees. Refreshes the lease first if its guarantee falls short.
   */
  async #covered(hold: Hold, entered: number): Promise<number> {
    const lease = hold.session.lease;
    if (lease.guaranteedUntil < hold.expiresAt) await lease.refresh().catch(() => {});
    return Math.max(1, Math.floor(Math.min(hold.expiresAt, lease.guaranteedUntil) - entered));
  }

  /** (Re)arms the timer that deletes the key when the hold's TTL passes without an extend. */
  #arm(line: Line, hold: Hold): void {
    if (hold.timer !== undefined) this.#clearTimer(hold.timer);
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        if (line.hold !== hold) return;
        this.#drop(line, hold);
        void this.#sweeper.withdraw(hold.etcdKey, hold.token, hold.session);
      },
      Math.min(2 ** 31 - 1, Math.max(0, hold.expiresAt - performance.now())),
    );
    timer.unref();
    hold.timer = timer;
    this.#timers.add(timer);
  }

  /** Forgets a hold locally and lets the next local waiter use the contender key. */
  #drop(line: Line | undefined, hold: Hold): void {
    if (hold.timer !== undefined) this.#clearTimer(hold.timer);
    hold.timer = undefined;
    if (!line || line.hold !== hold) return;
    line.hold = undefined;
    line.promote();
    this.#tidy(line);
  }

  // --- session ---------------------------------------------------------------------------------

  /** Every lock on a lost session is lost: `extend()` now answers false for each of them. */
  #sessionLost(session: Session): void {
    for (const line of [...this.#lines.values()]) {
      if (line.hold?.session === session) this.#drop(line, line.hold);
    }
  }

  /**
   * Stops timers, retries and watches at once, then revokes the session lease (etcd deletes every
   * key still on it) and waits for etcd's answer, so that the user's client may be closed right
   * after. If the revoke fails the keepalive is stopped anyway and the lease expires by itself.
   */
  async #shutdown(): Promise<void> {
    this.#closing.abort(new LockClosedError());
    for (const line of this.#lines.values()) {
      if (line.hold?.timer !== undefined) this.#clearTimer(line.hold.timer);
    }
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#sweeper.close();
    const watches = [...this.#watches];
    this.#watches.clear();
    await Promise.allSettled([...watches.map((w) => w.close()), this.#sessions.close()]);
    await this.#onClose?.();
  }

  // --- helpers ---------------------------------------------------------------------------------

  #open(): void {
    if (this.#closed) throw new LockClosedError();
  }

  /** Whole seconds, and never longer than the session the lock lives on. */
  #ttl(ttlMs: number): number {
    this.#open();
    const rounded = Math.ceil(ttlMs / 1000) * 1000;
    if (rounded > this.#settings.sessionTtlMs) {
      throw new LockArgumentError(
        `ttlMs ${ttlMs} exceeds the etcd session TTL (${this.#settings.sessionTtlMs} ms): a lock cannot outlive the lease it lives on; raise sessionTtlMs`,
      );
    }
    return rounded;
  }

  #queue(key: string): string {
    return queuePrefix(this.#settings.prefix, key);
  }

  #line(key: string): Line {
    let line = this.#lines.get(key);
    if (!line) {
      line = new Line(key);
      this.#lines.set(key, line);
    }
    return line;
  }

  #tidy(line: Line): void {
    if (line.idle && this.#lines.get(line.key) === line) this.#lines.delete(line.key);
  }

  #clearTimer(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }
}

function refusedBy(hold: Hold): AcquireResult {
  return {
    acquired: false,
    retryAfterMs: Math.max(0, Math.ceil(hold.expiresAt - performance.now())),
  };
}

/**
 * An etcd lock backend on the user's etcd3 client.
 *
 * ```ts
 * import { Etcd3 } from 'etcd3';
 * const locks = createLockClient(etcdBackend({ client: new Etcd3() }), { ttlMs: 10_000 });
 * ```
 */
export function etcdBackend(options: EtcdBackendOptions): LockBackend {
  const settings = resolveOptions(options);
  return new EtcdBackend(createEtcd3Driver(settings.client, settings.requestTimeoutMs), settings);
}

/** For `connectBackend`: a backend that also closes the client it was given. */
export function createEtcdBackend(
  options: EtcdBackendOptions,
  onClose: () => Promise<void>,
): LockBackend {
  const settings = resolveOptions(options);
  return new EtcdBackend(
    createEtcd3Driver(settings.client, settings.requestTimeoutMs),
    settings,
    onClose,
  );
}
