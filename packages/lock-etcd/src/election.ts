/**
 * Leader elections on etcd (the SPI's `ElectionBackend`), as etcd's `concurrency.Election`
 * (election.go) runs them, in its key layout (election-keys.ts), so `etcdctl elect` takes part.
 *
 * - **Campaign.** Each campaign has a lease of its own, of the election's TTL (whole seconds),
 *   and one transaction puts its candidate key (the public value) and side record (the owner) on
 *   it. The oldest candidate leads; its create revision is the term, which etcd's revision makes
 *   strictly increasing per name, also across restarts. The others wait, in etcd's order, for
 *   the deletion of the candidate created just before theirs (revision-queue.ts, as the mutex).
 * - **Renewal.** Only the leader's `extend` renews its lease (a frozen or dead leader lapses
 *   within its TTL); a waiting candidate's lease is kept alive while `waitCampaign` waits, and a
 *   queued `campaign` renews it each time it asks again.
 * - **Nothing left behind.** A withdrawn, aborted, timed-out or failed candidate and a resigned
 *   leader revoke their lease, which deletes both keys; an expired lease takes them with it.
 * - **No phantom leader.** A waiter checks after every wake-up that its own key still exists: a
 *   candidate whose lease died while it waited gets an error, never leadership.
 */
import { LockClosedError } from '@dlock/lock-core';
import {
  type AcquireRequest,
  type AcquireResult,
  type CampaignRequest,
  type CampaignWaitRequest,
  type ElectionBackend,
  type ElectionCapabilities,
  type ExtendResult,
  type LeaderState,
  monotonicNow,
  type OwnerRef,
  type ReleaseResult,
  type WatchHandle,
} from '@dlock/lock-core/spi';
import { failed, failedWait } from './backend-failure.js';
import type { DeleteWatch, EtcdDriver, StoredKey } from './driver.js';
import { candidateKey, candidateQueue, electorKey } from './election-keys.js';
import { watchElection } from './election-watch.js';
import { decodeHolder, encodeHolder, heldBy } from './keys.js';
import { throwIfAborted } from './pause.js';
import { reportError } from './report-error.js';
import { waitForTurn } from './revision-queue.js';
import { Session } from './session.js';
import { trackWatch } from './tracked-watch.js';

const CAPABILITIES: ElectionCapabilities = { watch: true, nativeWait: true, batchExtend: false };

/** One campaign of this backend: its keys, its own lease, and whether it leads yet. */
interface Candidate {
  readonly name: string;
  readonly owner: string;
  /** The candidate key `<pfx>/<leaseHex>`. */
  readonly key: string;
  /** The side record with the owner token. */
  readonly side: string;
  /** Create revision of both keys: the queue place, and the term once it leads. */
  readonly term: bigint;
  /** The lease both keys are on (moved to a longer one by a longer renewal). */
  session: Session;
  leading: boolean;
  count: number;
  /** The public value as last written. */
  value: string;
}

export class EtcdElection implements ElectionBackend {
  readonly capabilities = CAPABILITIES;
  readonly #driver: EtcdDriver;
  readonly #prefix: string;
  readonly #closing: AbortSignal;
  readonly #isClosed: () => boolean;
  /** This backend's candidates, by name and owner. */
  readonly #candidates = new Map<string, Candidate>();
  /** Watches of waiting candidates and of `watch()`, so that closing can cancel them. */
  readonly #watches = new Set<DeleteWatch>();

  constructor(driver: EtcdDriver, prefix: string, closing: AbortSignal, isClosed: () => boolean) {
    this.#driver = driver;
    this.#prefix = prefix;
    this.#closing = closing;
    this.#isClosed = isClosed;
  }

  async campaign(request: CampaignRequest): Promise<AcquireResult> {
    const entered = monotonicNow();
    const ttl = this.#ttl(request.ttlMs);
    return this.#campaign(request, ttl, entered).catch(failed('campaign', request.key));
  }

  async waitCampaign(request: CampaignWaitRequest): Promise<AcquireResult> {
    const entered = monotonicNow();
    const { signal } = request;
    if (signal.aborted) throw signal.reason;
    const ttl = this.#ttl(request.ttlMs);
    return this.#wait(request, ttl, entered).catch(failedWait(signal, request.key));
  }

  async extend(request: AcquireRequest): Promise<ExtendResult> {
    const ttl = this.#ttl(request.ttlMs);
    return this.#extend(request, ttl).catch(failed('extend', request.key));
  }

  async proclaim(request: OwnerRef & { readonly value: string }): Promise<boolean> {
    this.#open();
    return this.#proclaim(request).catch(failed('proclaim', request.key));
  }

  async resign(request: OwnerRef): Promise<ReleaseResult> {
    this.#open();
    const c = this.#leading(request);
    if (!c) return this.#resignRemote(request).catch(failed('resign', request.key));
    return this.#resign(c).catch(failed('resign', request.key));
  }

  async abandon(request: OwnerRef): Promise<boolean> {
    this.#open();
    const c = this.#candidates.get(id(request.key, request.owner));
    if (!c || c.leading) return false;
    const had = !c.session.lost;
    await this.#withdraw(c);
    return had;
  }

  async leader(name: string): Promise<LeaderState | null> {
    this.#open();
    return this.#leader(name).catch(failed('leader', name));
  }

  async watch(name: string, onChange: () => void): Promise<WatchHandle> {
    this.#open();
    const watch = await watchElection(
      this.#driver,
      candidateQueue(this.#prefix, name),
      onChange,
    ).catch(failed('watch', name));
    return trackWatch(this.#watches, watch, this.#isClosed());
  }

  /** Cancels the watches and revokes every campaign's lease: etcd deletes their keys. */
  async close(): Promise<void> {
    const watches = [...this.#watches];
    this.#watches.clear();
    const candidates = [...this.#candidates.values()];
    this.#candidates.clear();
    await Promise.all([
      ...watches.map((w) => w.close()),
      ...candidates.map((c) => c.session.end()),
    ]);
  }

  async #proclaim(request: OwnerRef & { readonly value: string }): Promise<boolean> {
    const c = this.#leading(request);
    const led = c ? undefined : await this.#remote(request);
    const guards = c ? this.#guards(c) : led?.guards;
    if (!guards) return false;
    const done = await this.#driver.electionTxn(guards, [
      { put: guards[0]!.key, value: request.value },
    ]);
    if (c && !done) await this.#withdraw(c);
    if (c && done) c.value = request.value;
    return done;
  }

  /**
   * The owner leads through another backend (an explicit owner shared between clients, an
   * operator's tool): its side record names it. Guards on both keys' incarnation, or undefined.
   */
  async #remote(ref: OwnerRef) {
    const read = await this.#read(ref.key);
    if (!read?.side || read.side.createRevision !== read.leader.createRevision) return undefined;
    const holder = decodeHolder(read.side.value, read.leader.lease);
    if (!heldBy(holder, ref.owner)) return undefined;
    const guards = [
      { key: read.leader.key, createRevision: read.leader.createRevision },
      { key: read.side.key, createRevision: read.side.createRevision },
    ];
    return { guards, count: holder.count };
  }

  /** Resign of a leadership held through another backend: its keys go, its lease stays theirs. */
  async #resignRemote(ref: OwnerRef): Promise<ReleaseResult> {
    const led = await this.#remote(ref);
    if (!led) return 'not-held';
    const [key, side] = led.guards;
    if (led.count > 1) {
      const done = await this.#driver.electionTxn(led.guards, [
        { put: side!.key, value: encodeHolder(ref.owner, led.count - 1) },
      ]);
      return done ? 'decremented' : 'not-held';
    }
    const done = await this.#driver.electionTxn(led.guards, [
      { delete: key!.key },
      { delete: side!.key },
    ]);
    return done ? 'released' : 'not-held';
  }

  async #campaign(request: CampaignRequest, ttl: number, entered: number): Promise<AcquireResult> {
    const known = this.#candidates.get(id(request.key, request.owner));
    if (known) {
      const result = await this.#revisit(known, request, ttl, entered);
      if (result) return result;
    }
    const { c, first } = await this.#put(request, ttl);
    if (first === undefined || first.key === c.key) return this.#lead(c, request, entered);
    if (request.queue) return { acquired: false, retryAfterMs: Math.floor(ttl / 3) };
    await this.#withdraw(c);
    return this.#refusal(first);
  }

  /**
   * A campaign of an owner that already has a candidate here: re-enter as the leader, lead if
   * its turn came, or keep (and renew) its place. Undefined when the candidate is gone (expired,
   * deleted): the caller campaigns afresh, at the back.
   */
  async #revisit(
    c: Candidate,
    request: CampaignRequest,
    ttl: number,
    entered: number,
  ): Promise<AcquireResult | undefined> {
    if (c.session.lost) {
      this.#forget(c);
      return undefined;
    }
    if (c.leading) {
      if (!(await this.#write(c, c.count + 1, request.value, ttl))) return undefined;
      const ttlMs = await this.#covered(c, ttl, entered);
      return { acquired: true, fencingToken: c.term, reentered: true, ttlMs };
    }
    const queue = candidateQueue(this.#prefix, c.name);
    const standing = await this.#driver.candidateStanding(queue, c.key, c.term);
    if (!standing.own || standing.own.createRevision !== c.term) {
      await this.#withdraw(c);
      return undefined;
    }
    if (!standing.predecessor) return this.#lead(c, request, entered);
    if (!request.queue) {
      await this.#withdraw(c);
      return this.#refusal(standing.predecessor);
    }
    // Asking again renews the waiter entry: a dead candidate's lapses within its TTL.
    await c.session.refresh();
    return { acquired: false, retryAfterMs: Math.floor(c.session.ttlMs / 3) };
  }

  /** `waitCampaign`: queue (or keep the place we have) and wait for our turn on etcd. */
  async #wait(request: CampaignWaitRequest, ttl: number, entered: number): Promise<AcquireResult> {
    const signals = [request.signal, this.#closing];
    const known = this.#candidates.get(id(request.key, request.owner));
    if (known?.leading) {
      const result = await this.#revisit(known, request, ttl, entered);
      if (result) return result;
    }
    throwIfAborted(signals);
    let c = known && !known.leading && !known.session.lost ? known : undefined;
    if (!c) {
      if (known) this.#forget(known);
      const put = await this.#put(request, ttl);
      c = put.c;
      if (put.first === undefined || put.first.key === c.key) {
        return this.#granted(c, await this.#lead(c, request, entered), signals);
      }
    }
    const candidate = c;
    const queued = candidate.session.waiting();
    let turn: Awaited<ReturnType<typeof waitForTurn>>;
    try {
      turn = await waitForTurn(
        {
          driver: {
            standing: (queue, key, revision) =>
              this.#driver.candidateStanding(queue, key, revision),
            watchDeletes: (target, from, handlers) =>
              this.#driver.watchDeletes(target, from, handlers),
          },
          watches: this.#watches,
        },
        {
          key: request.key,
          queue: candidateQueue(this.#prefix, request.key),
          own: candidate.key,
          revision: candidate.term,
          session: candidate.session,
          deadline: entered + request.timeoutMs,
          signals,
        },
      );
    } catch (error) {
      // Aborted, closed or failed: leave nothing behind.
      await this.#withdraw(candidate);
      throw error;
    } finally {
      queued();
    }
    if (turn.turn === 'timeout') {
      await this.#withdraw(candidate);
      return { acquired: false };
    }
    if (turn.turn === 'session-lost') {
      await this.#withdraw(candidate);
      throw new Error(`the candidate ${candidate.key} expired while it waited`);
    }
    // The phantom-leader check: our key must still be there, as the one we queued.
    const [own] = await this.#driver.getMany([candidate.key]).catch(async (error: unknown) => {
      await this.#withdraw(candidate);
      throw error;
    });
    if (!own || own.createRevision !== candidate.term || candidate.session.lost) {
      await this.#withdraw(candidate);
      throw new Error(`the candidate ${candidate.key} expired while it waited`);
    }
    return this.#granted(candidate, await this.#lead(candidate, request, entered), signals);
  }

  /** A grant that raced an abort and won is given straight back. */
  async #granted(
    c: Candidate,
    result: AcquireResult,
    signals: readonly AbortSignal[],
  ): Promise<AcquireResult> {
    const aborted = signals.find((s) => s.aborted);
    if (!aborted) return result;
    await this.#resign(c).catch((error: unknown) => reportError('campaign', c.name, error));
    throw aborted.reason;
  }

  /** A fresh candidate: its own lease, then both keys and a read of the leader in one txn. */
  async #put(
    request: CampaignRequest,
    ttl: number,
  ): Promise<{ c: Candidate; first: StoredKey | undefined }> {
    const session = await this.#openSession(ttl);
    const queue = candidateQueue(this.#prefix, request.key);
    const key = candidateKey(this.#prefix, request.key, session.id);
    const side = electorKey(this.#prefix, request.key, key);
    try {
      const { own, first } = await this.#driver.campaignPut(
        queue,
        key,
        request.value,
        side,
        encodeHolder(request.owner, 1),
        session.id,
      );
      const c: Candidate = {
        name: request.key,
        owner: request.owner,
        key,
        side,
        term: own.createRevision,
        session,
        leading: false,
        count: 1,
        value: request.value,
      };
      this.#candidates.get(id(c.name, c.owner))?.session.end();
      this.#candidates.set(id(c.name, c.owner), c);
      return { c, first };
    } catch (error) {
      await session.end();
      throw error;
    }
  }

  /** Our candidate is the oldest: it leads (with the request's value). */
  async #lead(c: Candidate, request: CampaignRequest, entered: number): Promise<AcquireResult> {
    const ttl = this.#ttl(request.ttlMs);
    if (request.value !== c.value || ttl > c.session.ttlMs) {
      if (!(await this.#write(c, c.count, request.value, ttl))) return { acquired: false };
    }
    c.leading = true;
    const ttlMs = await this.#covered(c, ttl, entered);
    return { acquired: true, fencingToken: c.term, reentered: false, ttlMs };
  }

  /**
   * Writes the hold count and value (moving both keys to a lease of `ttl` first when that is
   * longer than theirs), guarded by the term; false (and the candidate forgotten) when it is gone.
   */
  async #write(c: Candidate, count: number, value: string, ttl?: number): Promise<boolean> {
    const longer =
      ttl !== undefined && ttl > c.session.ttlMs ? await this.#openSession(ttl) : undefined;
    const lease = longer ? { lease: longer.id } : {};
    let done: boolean;
    try {
      done = await this.#driver.electionTxn(this.#guards(c), [
        { put: c.key, value, ...lease },
        { put: c.side, value: encodeHolder(c.owner, count), ...lease },
      ]);
    } catch (error) {
      await longer?.end();
      throw error;
    }
    if (!done) {
      // Its keys are gone (expired, deleted by an operator): nothing more to hold on to.
      await Promise.all([longer?.end(), this.#withdraw(c)]);
      return false;
    }
    c.count = count;
    c.value = value;
    if (longer) {
      const old = c.session;
      c.session = longer;
      // Nothing is on it any more.
      void old.end();
    }
    return true;
  }

  async #extend(request: AcquireRequest, ttl: number): Promise<ExtendResult> {
    const c = this.#leading(request);
    if (!c || c.session.lost) return false;
    if (ttl > c.session.ttlMs && !(await this.#write(c, c.count, c.value, ttl))) return false;
    const started = monotonicNow();
    const session = c.session;
    const [[kv], refreshed] = await Promise.all([
      this.#driver.getMany([c.key]),
      session.refresh(started).then(
        () => true,
        (error: unknown) => error,
      ),
    ]);
    if (!kv || kv.createRevision !== c.term || session.lost) return this.#forget(c);
    // The key is there but the lease could not be renewed: the caller retries in time.
    if (refreshed !== true) throw refreshed;
    const covered = Math.floor(Math.min(started + ttl, session.guaranteedUntil) - started);
    return covered >= ttl ? true : { ttlMs: Math.max(1, covered) };
  }

  async #resign(c: Candidate): Promise<ReleaseResult> {
    if (c.count > 1) {
      return (await this.#write(c, c.count - 1, c.value)) ? 'decremented' : 'not-held';
    }
    this.#forget(c);
    let deleted: boolean;
    try {
      deleted = await this.#driver.electionTxn(this.#guards(c), [
        { delete: c.key },
        { delete: c.side },
      ]);
    } catch (error) {
      // Given up either way: the revoke below deletes the keys if it gets through.
      void c.session.end();
      throw error;
    }
    await c.session.end();
    return deleted ? 'released' : 'not-held';
  }

  /** The oldest candidate and its side record, at one revision. */
  #read(name: string) {
    return this.#driver.electionLeader(candidateQueue(this.#prefix, name), (l) =>
      electorKey(this.#prefix, name, l.key),
    );
  }

  async #leader(name: string): Promise<LeaderState | null> {
    const read = await this.#read(name);
    if (!read) return null;
    const { leader, side } = read;
    // No side record of that candidate: `etcdctl elect` or another Election user leads.
    const holder = decodeHolder(
      side && side.createRevision === leader.createRevision ? side.value : '',
      leader.lease,
    );
    const local = [...this.#candidates.values()].find(
      (c) => c.key === leader.key && c.term === leader.createRevision && !c.session.lost,
    );
    const ttlMs = local
      ? Math.max(1, Math.ceil(local.session.guaranteedUntil - monotonicNow()))
      : leader.lease === '0'
        ? Number.POSITIVE_INFINITY
        : // Whole seconds, rounded down by etcd: under a second left reads as 1 ms.
          ((await this.#driver.leaseRemainingMs(leader.lease)) ?? 1);
    return { owner: holder.owner, value: leader.value, term: leader.createRevision, ttlMs };
  }

  /** A refusal behind `first`, the leader: the caller may retry once its lease ran out. */
  async #refusal(first: StoredKey): Promise<AcquireResult> {
    const remaining =
      first.lease === '0' ? undefined : await this.#driver.leaseRemainingMs(first.lease);
    return { acquired: false, retryAfterMs: remaining };
  }

  /**
   * Milliseconds from `entered` that the lease covers, at most `ttl`: renews it first if its
   * guarantee falls short.
   */
  async #covered(c: Candidate, ttl: number, entered: number): Promise<number> {
    if (!c.session.nearlyCovers(entered + ttl)) {
      await c.session.refresh(entered).catch((e: unknown) => reportError('campaign', c.name, e));
    }
    return Math.max(1, Math.floor(Math.min(entered + ttl, c.session.guaranteedUntil) - entered));
  }

  /** Deletes a candidate that gives up: revoking its lease deletes both its keys. */
  async #withdraw(c: Candidate): Promise<void> {
    this.#forget(c);
    await c.session.end();
  }

  async #openSession(ttl: number): Promise<Session> {
    const sentAt = monotonicNow();
    const granted = await this.#driver.grantLease(ttl / 1000);
    const session = new Session(this.#driver, granted, sentAt, (lost) => {
      for (const c of this.#candidates.values()) if (c.session === lost) this.#forget(c);
    });
    if (this.#isClosed()) {
      await session.end();
      throw new LockClosedError();
    }
    return session;
  }

  #leading(ref: OwnerRef): Candidate | undefined {
    const c = this.#candidates.get(id(ref.key, ref.owner));
    return c?.leading ? c : undefined;
  }

  /** Both keys must still be the incarnation the candidate put. */
  #guards(c: Candidate) {
    return [
      { key: c.key, createRevision: c.term },
      { key: c.side, createRevision: c.term },
    ];
  }

  /** Forgets a candidate locally; false, for the callers that answer "not held" with it. */
  #forget(c: Candidate): false {
    const known = id(c.name, c.owner);
    if (this.#candidates.get(known) === c) this.#candidates.delete(known);
    return false;
  }

  #open(): void {
    if (this.#isClosed()) throw new LockClosedError();
  }

  /** Whole seconds: the TTL of the campaign's lease. */
  #ttl(ttlMs: number): number {
    this.#open();
    return Math.ceil(ttlMs / 1000) * 1000;
  }
}

function id(name: string, owner: string): string {
  return JSON.stringify([name, owner]);
}
