import type {
  AcquireRequest,
  LeaseKind,
  LockBackend,
  NativeWaitRequest,
  OwnerRef,
  SharedBackend,
} from '../backend.js';
import { SPECIFICATION_VERSION } from '../backend.js';

/** What a semaphore or read-write call adds to a lock request on its way to the backend. */
export interface LeaseParams {
  /** Permits asked for (semaphores; 1 otherwise). */
  readonly permits: number;
  /** `waitTimeoutMs`: a call that may wait asks the backend to queue it when refused. */
  readonly waitTimeoutMs: number;
}

/** The semaphore limit and its `changeLimit` flag that every request of a view carries. */
export interface ViewConfig {
  readonly kind: LeaseKind;
  readonly limit: number;
  readonly changeLimit: boolean;
}

/**
 * A backend that looks like a mutex backend to the core's machinery (lines, leases, watchdog,
 * reentrancy, disposal) but sends every call to the shared-key operations with one lease kind.
 * This is how semaphores and read-write locks get waiting, renewal and `await using` without a
 * second implementation of any of them: the client built on a view is the same class as the
 * user's client. The view owns nothing: `close()` is the parent client's business.
 */
export function leaseView(
  parent: LockBackend,
  shared: SharedBackend,
  config: ViewConfig,
): LockBackend {
  const { kind, limit, changeLimit } = config;
  const family = kind === 'semaphore' ? 'semaphore' : 'read-write';
  const caps = shared.capabilities;
  const acquireRequest = (r: AcquireRequest) => {
    const extra = r as AcquireRequest & Partial<LeaseParams>;
    return {
      kind,
      key: r.key,
      owner: r.owner,
      ttlMs: r.ttlMs,
      limit,
      permits: extra.permits ?? 1,
      changeLimit,
      queue: extra.waitTimeoutMs !== undefined && extra.waitTimeoutMs !== 0,
    };
  };
  const ref = (r: OwnerRef) => ({ kind, key: r.key, owner: r.owner });
  return {
    specificationVersion: SPECIFICATION_VERSION,
    name: parent.name,
    capabilities: {
      watch: caps.watch && shared.watch !== undefined,
      nativeWait: caps.nativeWait && shared.waitAcquire !== undefined,
      ttlGranularityMs: parent.capabilities.ttlGranularityMs,
      batchExtend: caps.batchExtend && shared.extendMany !== undefined,
      // The shared operations travel on the backend's own connections, in the same order.
      orderedRequests: parent.capabilities.orderedRequests === true,
    },
    tryAcquire: (r) => shared.tryAcquire(acquireRequest(r)),
    extend: (r) => shared.extend({ ...ref(r), ttlMs: r.ttlMs }),
    ...(caps.batchExtend && shared.extendMany
      ? {
          extendMany: (requests: readonly AcquireRequest[]) =>
            shared.extendMany!(requests.map((r) => ({ ...ref(r), ttlMs: r.ttlMs }))),
        }
      : {}),
    release: (r) => shared.release(ref(r)),
    // The core's clients built on a view never inspect through it (the primitives read
    // `shared.inspect` themselves); a mutex-shaped answer would only mislead.
    inspect: () => Promise.resolve(null),
    ...(caps.watch && shared.watch
      ? { watch: (key: string, onRelease: () => void) => shared.watch!(family, key, onRelease) }
      : {}),
    ...(caps.nativeWait && shared.waitAcquire
      ? {
          waitAcquire: (r: NativeWaitRequest) =>
            shared.waitAcquire!({ ...acquireRequest(r), timeoutMs: r.timeoutMs, signal: r.signal }),
        }
      : {}),
    close: () => Promise.resolve(),
  };
}
