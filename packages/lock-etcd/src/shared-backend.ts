/**
 * The `shared` half of the etcd backend (`SharedBackend`): validates nothing (the core did),
 * rounds TTLs up to etcd's whole-second leases, refuses calls after `close()`, and names a driver
 * failure after the SPI operation as `LockBackendError` (dlock's own errors pass as they are).
 */
import { LockClosedError } from '@dlock/lock-core';
import {
  type AcquireResult,
  type ExtendResult,
  type LeaseAcquireRequest,
  type LeaseRef,
  type LeaseWaitRequest,
  monotonicNow,
  type ReleaseResult,
  type SharedBackend,
  type SharedCapabilities,
  type SharedState,
  type WatchHandle,
} from '@dlock/lock-core/spi';
import { failed, failedWait } from './backend-failure.js';
import type { EtcdShared } from './shared-leases.js';

const CAPABILITIES: SharedCapabilities = {
  // One etcd cluster is one linearizable store: any limit is safe.
  maxSemaphoreLimit: Number.POSITIVE_INFINITY,
  readWrite: true,
  watch: true,
  nativeWait: true,
  batchExtend: true,
};

export function createSharedBackend(
  shared: EtcdShared,
  closing: AbortSignal,
  isClosed: () => boolean,
): SharedBackend {
  const open = (): void => {
    if (isClosed()) throw new LockClosedError();
  };
  /** Whole seconds: the TTL of the session lease the key lives on. */
  const ttl = (ttlMs: number): number => Math.ceil(ttlMs / 1000) * 1000;

  return {
    capabilities: CAPABILITIES,

    async tryAcquire(request: LeaseAcquireRequest): Promise<AcquireResult> {
      const entered = monotonicNow();
      open();
      return shared
        .tryAcquire({ ...request, ttl: ttl(request.ttlMs), entered })
        .catch(failed('acquire', request.key));
    },

    async waitAcquire(request: LeaseWaitRequest): Promise<AcquireResult> {
      const entered = monotonicNow();
      open();
      const { signal } = request;
      if (signal.aborted) throw signal.reason;
      return shared
        .waitAcquire({
          ...request,
          ttl: ttl(request.ttlMs),
          entered,
          deadline: entered + request.timeoutMs,
          signals: [signal, closing],
        })
        .catch(failedWait(signal, request.key));
    },

    async extend(request: LeaseRef & { readonly ttlMs: number }): Promise<ExtendResult> {
      open();
      return shared.extend(request, ttl(request.ttlMs)).catch(failed('extend', request.key));
    },

    async extendMany(
      requests: readonly (LeaseRef & { readonly ttlMs: number })[],
    ): Promise<ExtendResult[]> {
      open();
      return shared
        .extendMany(
          requests,
          requests.map((r) => ttl(r.ttlMs)),
        )
        .catch(failed('extendMany', undefined));
    },

    async release(request: LeaseRef): Promise<ReleaseResult> {
      open();
      return shared.release(request).catch(failed('release', request.key));
    },

    async abandon(request: LeaseRef): Promise<boolean> {
      open();
      return shared.abandon(request).catch(failed('abandon', request.key));
    },

    async inspect(family: 'semaphore' | 'read-write', key: string): Promise<SharedState | null> {
      open();
      return shared.inspect(family, key).catch(failed('inspect', key));
    },

    async forceRelease(family: 'semaphore' | 'read-write', key: string): Promise<boolean> {
      open();
      return shared.forceRelease(family, key).catch(failed('forceRelease', key));
    },

    async watch(
      family: 'semaphore' | 'read-write',
      key: string,
      onRelease: () => void,
    ): Promise<WatchHandle> {
      open();
      const handle = await shared.watch(family, key, onRelease).catch(failed('watch', key));
      if (isClosed()) {
        await handle.close();
        throw new LockClosedError();
      }
      return handle;
    },
  };
}
