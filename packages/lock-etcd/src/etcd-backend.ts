import {
  type AcquireRequest,
  type AcquireResult,
  type BackendCapabilities,
  type ExtendResult,
  type LockBackend,
  LockClosedError,
  type LockState,
  type NativeWaitRequest,
  type OwnerRef,
  type ReleaseResult,
  type WatchHandle,
} from '@dlock/lock-core';
import { SPECIFICATION_VERSION } from '@dlock/lock-core/spi';
import { tryAcquireOn } from './acquire.js';
import type { BackendContext } from './backend-context.js';
import type { EtcdDriver } from './driver.js';
import { createEtcd3Driver } from './etcd3-driver.js';
import { extendHolds } from './extend-holds.js';
import { decodeHolder } from './holder-value.js';
import { queuePrefix } from './keys.js';
import { LineRegistry } from './line-registry.js';
import { releaseHold } from './local-hold.js';
import { waitOn } from './native-wait.js';
import { type EtcdBackendOptions, type EtcdSettings, resolveOptions } from './options.js';
import { SessionKeeper } from './session-keeper.js';
import { holdsShared, releaseShared } from './shared-owner.js';
import { Sweeper } from './sweeper.js';

const CAPABILITIES: BackendCapabilities = {
  watch: true,
  nativeWait: true,
  orderedWaiters: true,
  ttlGranularityMs: 1000,
  batchExtend: true,
};

/**
 * etcd backend: etcd's `concurrency.Mutex` algorithm on one lease per lock TTL class.
 *
 * - Each contender puts `${prefix}${key}/${leaseHex}` with its TTL class's lease if absent; the
 *   oldest key (lowest create revision) holds the lock, and its create revision is the fencing
 *   token. A waiter watches only the key created just before its own, so a release wakes one
 *   waiter (FIFO, no herd).
 * - The lease's TTL is the lock's (whole seconds). It is renewed by the locks' renewals (one
 *   keep-alive per lease for a whole `extendMany` batch), and in the background only while a
 *   waiter is queued on it, so a process that dies or freezes lets its keys go within the TTL.
 * - A lock that is not renewed while other locks on its lease are has its key deleted by this
 *   backend when its TTL passes, as the others' keep-alives keep the lease itself alive.
 */
export class EtcdBackend implements LockBackend {
  readonly specificationVersion = SPECIFICATION_VERSION;
  readonly name = 'etcd';
  readonly capabilities = CAPABILITIES;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #closing = new AbortController();
  readonly #ctx: BackendContext;
  #closed: Promise<void> | undefined;

  constructor(driver: EtcdDriver, settings: EtcdSettings, onClose?: () => Promise<void>) {
    this.#onClose = onClose;
    const sweeper = new Sweeper(driver);
    const lines = new LineRegistry(sweeper);
    this.#ctx = {
      driver,
      watches: new Set(),
      lines,
      sweeper,
      sessions: new SessionKeeper(driver, (session) => lines.dropSession(session)),
      queue: (key) => queuePrefix(settings.prefix, key),
    };
  }

  async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    const entered = performance.now();
    const ttl = this.#ttl(request.ttlMs);
    const ctx = this.#ctx;
    const line = ctx.lines.line(request.key);
    try {
      return await tryAcquireOn(ctx, line, { owner: request.owner, ttl, entered });
    } finally {
      ctx.lines.tidy(line);
    }
  }

  async waitAcquire(request: NativeWaitRequest): Promise<AcquireResult> {
    const entered = performance.now();
    const { signal } = request;
    if (signal.aborted) throw signal.reason;
    const ttl = this.#ttl(request.ttlMs);
    const deadline = entered + request.timeoutMs;
    const signals = [signal, this.#closing.signal];
    const ctx = this.#ctx;
    const line = ctx.lines.line(request.key);
    try {
      return await waitOn(ctx, line, { owner: request.owner, ttl, entered, deadline, signals });
    } finally {
      ctx.lines.tidy(line);
    }
  }

  extend(request: AcquireRequest): Promise<ExtendResult> {
    return this.#extendAll([request]).then((results) => results[0]!);
  }

  extendMany(requests: readonly AcquireRequest[]): Promise<ExtendResult[]> {
    return this.#extendAll(requests);
  }

  async release(request: OwnerRef): Promise<ReleaseResult> {
    this.#open();
    const ctx = this.#ctx;
    const line = ctx.lines.line(request.key);
    try {
      return await line.exclusive(async () => {
        const hold = line.hold;
        if (hold?.owner === request.owner) return releaseHold(ctx, line, hold);
        // Not held through this backend; the owner may hold it through another one (an explicit
        // owner shared between clients).
        const shared = await holdsShared(ctx.driver, ctx.queue(request.key), request.owner);
        return shared ? releaseShared(ctx.driver, shared, request.owner) : 'not-held';
      });
    } finally {
      ctx.lines.tidy(line);
    }
  }

  async inspect(key: string): Promise<LockState | null> {
    this.#open();
    const ctx = this.#ctx;
    const first = await ctx.driver.oldest(ctx.queue(key));
    if (!first) return null;
    const holder = decodeHolder(first.value, first.lease);
    const local = ctx.lines.get(key)?.hold;
    const ttlMs =
      local && local.etcdKey === first.key && local.token === first.createRevision
        ? Math.max(0, Math.ceil(local.expiresAt - performance.now()))
        : // Held by another process (or another TTL class): its lease bounds how long the key lives.
          ((await ctx.driver.leaseRemainingMs(first.lease)) ?? 0);
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
    const ctx = this.#ctx;
    const watch = await ctx.driver.watchDeletes(
      { prefix: ctx.queue(key) },
      undefined,
      // Any deletion in the queue may have freed the lock (a spurious wake-up is harmless), and
      // after a resync the waiter must re-check in case a release went by unseen.
      { onDelete: onRelease, onResync: onRelease },
    );
    if (this.#closed) {
      await watch.close();
      throw new LockClosedError();
    }
    ctx.watches.add(watch);
    return {
      close: () => {
        ctx.watches.delete(watch);
        return watch.close();
      },
    };
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #extendAll(requests: readonly AcquireRequest[]): Promise<ExtendResult[]> {
    this.#open();
    const ttls = requests.map((r) => this.#ttl(r.ttlMs));
    return extendHolds(this.#ctx, requests, ttls);
  }

  /**
   * Stops timers, retries and watches at once, then revokes the leases (etcd deletes every key
   * still on them) and waits for etcd's answers, so that the user's client may be closed right
   * after. A lease whose revoke fails expires by itself within its TTL: nothing renews it.
   */
  async #shutdown(): Promise<void> {
    this.#closing.abort(new LockClosedError());
    const { lines, sweeper, watches, sessions } = this.#ctx;
    lines.stopTimers();
    sweeper.close();
    const open = [...watches];
    watches.clear();
    await Promise.allSettled([...open.map((w) => w.close()), sessions.close()]);
    await this.#onClose?.();
  }

  #open(): void {
    if (this.#closed) throw new LockClosedError();
  }

  /** Whole seconds: the TTL class, and the TTL of the lease the lock lives on. */
  #ttl(ttlMs: number): number {
    this.#open();
    return Math.ceil(ttlMs / 1000) * 1000;
  }
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
