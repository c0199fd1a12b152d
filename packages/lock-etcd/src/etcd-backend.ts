/**
 * The etcd backend: the SPI on the Mutex (mutex.go's recipe, in mutex.ts) and its sessions
 * (session.ts), through the driver seam (driver.ts, etcd3-driver.ts). One acquire reads
 * etcd-backend.ts → mutex.ts → session.ts / revision-queue.ts → etcd3-driver.ts.
 *
 * - Each acquisition puts its own key `${prefix}${key}/${leaseHex}_${n}` on the session lease of
 *   its TTL; the oldest key (lowest create revision) holds the lock, and its create revision is
 *   the fencing token. A waiter watches only the key created just before its own, so a release
 *   wakes one waiter, local or remote, in etcd's order (FIFO, no herd).
 * - The lease's TTL is the lock's (whole seconds). It is renewed by the locks' renewals (one
 *   keep-alive per lease for a whole `extendMany` batch), and in the background only while a
 *   waiter is queued on it, so a process that dies or freezes lets its keys go within the TTL.
 * - A lock that is not renewed while other locks on its lease are has its key deleted by this
 *   backend when its TTL passes, as the others' keep-alives keep the lease itself alive.
 */
import {
  type AcquireRequest,
  type AcquireResult,
  type BackendCapabilities,
  type ExtendResult,
  type ListPage,
  type ListRequest,
  type LockBackend,
  LockClosedError,
  type LockState,
  type NativeWaitRequest,
  type OwnerRef,
  type ReleaseResult,
  type WatchHandle,
} from '@dlock/lock-core';
import {
  type ElectionBackend,
  monotonicNow,
  type SharedBackend,
  SPECIFICATION_VERSION,
} from '@dlock/lock-core/spi';
import { BACKEND_NAME, failed, failedWait } from './backend-failure.js';
import type { DeleteWatch, EtcdDriver } from './driver.js';
import { EtcdElection } from './election.js';
import { createEtcd3Driver } from './etcd3-driver.js';
import { EtcdMutex } from './mutex.js';
import { type EtcdBackendOptions, resolveOptions } from './options.js';
import { createSharedBackend } from './shared-backend.js';
import { EtcdShared } from './shared-leases.js';
import { trackWatch } from './tracked-watch.js';

const CAPABILITIES: BackendCapabilities = {
  watch: true,
  nativeWait: true,
  ttlGranularityMs: 1000,
  batchExtend: true,
  list: true,
  // One compare, one put and one read per key: 60 keys stay well under etcd's default
  // --max-txn-ops of 128, whichever way it is counted.
  maxManyKeys: 60,
};

class EtcdBackend implements LockBackend {
  readonly specificationVersion = SPECIFICATION_VERSION;
  readonly name = BACKEND_NAME;
  readonly capabilities = CAPABILITIES;
  readonly #mutex: EtcdMutex;
  /** Semaphores and read-write locks, on the mutex's session leases. */
  readonly #shared: EtcdShared;
  readonly shared: SharedBackend;
  /** Leader elections, each campaign on a lease of its own (election.ts). */
  readonly #election: EtcdElection;
  readonly election: ElectionBackend;
  readonly #driver: EtcdDriver;
  readonly #prefix: string;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #closing = new AbortController();
  /** Watches the core opened through `watch()`. */
  readonly #watches = new Set<DeleteWatch>();
  #closed: Promise<void> | undefined;

  constructor(driver: EtcdDriver, prefix: string, onClose: (() => Promise<void>) | undefined) {
    this.#driver = driver;
    this.#prefix = prefix;
    this.#mutex = new EtcdMutex(driver, prefix);
    this.#shared = new EtcdShared(driver, prefix, this.#mutex.sessions);
    this.shared = createSharedBackend(
      this.#shared,
      this.#closing.signal,
      () => this.#closed !== undefined,
    );
    this.#election = new EtcdElection(
      driver,
      prefix,
      this.#closing.signal,
      () => this.#closed !== undefined,
    );
    this.election = this.#election;
    this.#onClose = onClose;
  }

  async tryAcquire(request: AcquireRequest): Promise<AcquireResult> {
    const entered = monotonicNow();
    const ttl = this.#ttl(request.ttlMs);
    return this.#mutex
      .tryAcquire({ key: request.key, owner: request.owner, ttl, entered })
      .catch(failed('acquire', request.key));
  }

  async tryAcquireMany(requests: readonly AcquireRequest[]): Promise<AcquireResult[]> {
    const entered = monotonicNow();
    const claims = requests.map((r) => ({
      key: r.key,
      owner: r.owner,
      ttl: this.#ttl(r.ttlMs),
      entered,
    }));
    return this.#mutex.tryAcquireMany(claims).catch(failed('tryAcquireMany', undefined));
  }

  async waitAcquire(request: NativeWaitRequest): Promise<AcquireResult> {
    const entered = monotonicNow();
    const { signal } = request;
    if (signal.aborted) throw signal.reason;
    const ttl = this.#ttl(request.ttlMs);
    return this.#mutex
      .waitAcquire({
        key: request.key,
        owner: request.owner,
        ttl,
        entered,
        deadline: entered + request.timeoutMs,
        signals: [signal, this.#closing.signal],
      })
      .catch(failedWait(signal, request.key));
  }

  async extend(request: AcquireRequest): Promise<ExtendResult> {
    const ttl = this.#ttl(request.ttlMs);
    const [result] = await this.#mutex
      .extendMany([request], [ttl])
      .catch(failed('extend', request.key));
    return result!;
  }

  async extendMany(requests: readonly AcquireRequest[]): Promise<ExtendResult[]> {
    this.#open();
    const ttls = requests.map((r) => this.#ttl(r.ttlMs));
    return this.#mutex.extendMany(requests, ttls).catch(failed('extendMany', undefined));
  }

  async release(request: OwnerRef): Promise<ReleaseResult> {
    this.#open();
    return this.#mutex.release(request).catch(failed('release', request.key));
  }

  async inspect(key: string): Promise<LockState | null> {
    this.#open();
    return this.#mutex.inspect(key).catch(failed('inspect', key));
  }

  async forceRelease(key: string): Promise<boolean> {
    this.#open();
    return this.#mutex.forceRelease(key).catch(failed('forceRelease', key));
  }

  async list(request: ListRequest): Promise<ListPage> {
    this.#open();
    return this.#driver.list(this.#prefix, request).catch(failed('list', undefined));
  }

  async watch(key: string, onRelease: () => void): Promise<WatchHandle> {
    this.#open();
    const watch = await this.#driver
      .watchDeletes(
        { prefix: this.#mutex.queue(key) },
        undefined,
        // Any deletion in the queue may have freed the lock (a spurious wake-up is harmless), and
        // after a resync the waiter must re-check in case a release went by unseen.
        { onDelete: onRelease, onResync: onRelease },
      )
      .catch(failed('watch', key));
    return trackWatch(this.#watches, watch, this.#closed !== undefined);
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  /**
   * Stops waits, timers, retries and watches at once, then revokes the leases (etcd deletes every
   * key still on them) and waits for etcd's answers, so that the user's client may be closed right
   * after. A lease whose revoke fails expires by itself within its TTL: nothing renews it.
   */
  async #shutdown(): Promise<void> {
    this.#closing.abort(new LockClosedError());
    const watches = [...this.#watches];
    this.#watches.clear();
    await Promise.all([this.#shared.close(), this.#election.close()]);
    await Promise.all([...watches.map((w) => w.close()), this.#mutex.close()]);
    await this.#onClose?.();
  }

  #open(): void {
    if (this.#closed) throw new LockClosedError();
  }

  /** Whole seconds: the TTL of the session lease the lock lives on. */
  #ttl(ttlMs: number): number {
    this.#open();
    return Math.ceil(ttlMs / 1000) * 1000;
  }
}

/**
 * An etcd lock backend on the user's etcd3 client, which it never closes.
 *
 * ```ts
 * import { Etcd3 } from 'etcd3';
 * const locks = createLockClient(etcdBackend({ client: new Etcd3() }), { ttlMs: 10_000 });
 * ```
 */
export function etcdBackend(options: EtcdBackendOptions): LockBackend {
  const settings = resolveOptions(options);
  return createEtcdBackend({
    driver: createEtcd3Driver(settings.client, settings.requestTimeoutMs, settings.prefix),
    prefix: settings.prefix,
  });
}

/** The one constructor behind `etcdBackend` and `connectBackend` (and tests with their driver). */
export function createEtcdBackend(options: {
  readonly driver: EtcdDriver;
  readonly prefix: string;
  /** Runs last in `close()`: `connectBackend` closes the client it created. */
  readonly onClose?: () => Promise<void>;
}): LockBackend {
  return new EtcdBackend(options.driver, options.prefix, options.onClose);
}
