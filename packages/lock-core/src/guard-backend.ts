import {
  type ElectionBackend,
  type ListPage,
  type LockBackend,
  type SharedBackend,
  SPECIFICATION_VERSION,
} from './backend.js';
import { LockArgumentError, toBackendError } from './errors.js';
import { holderOf } from './owner.js';

/**
 * Wraps an adapter so that everything it throws or rejects with, synchronously or not, reaches
 * the core as a `LockError` (driver failures as `LockBackendError` with the driver error as
 * cause). The core and its users then never see a raw driver error or a synchronous throw.
 */
export function guardBackend(backend: LockBackend): LockBackend {
  if (typeof backend !== 'object' || backend === null || !backend.capabilities) {
    throw new LockArgumentError(
      'createLockClient needs a LockBackend (for example memoryBackend())',
    );
  }
  // Checked before anything else is read: a backend written against another SPI version may
  // mean something else by the same method names.
  const version: unknown = backend.specificationVersion;
  if (version !== SPECIFICATION_VERSION) {
    throw new LockArgumentError(
      `The ${String(backend.name)} backend implements SPI version ${String(version)}; this ` +
        `@dlock/lock-core supports specificationVersion ${SPECIFICATION_VERSION} (upgrade the adapter or lock-core so they match)`,
    );
  }
  for (const method of ['tryAcquire', 'extend', 'release', 'inspect', 'close'] as const) {
    if (typeof backend[method] !== 'function') {
      throw new LockArgumentError(`The backend does not implement ${method}()`);
    }
  }
  const name = backend.name;
  const guard =
    <A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      // `operation` is the SPI method's name, as in every LockBackendError.
      // Not an async function: on the hot path one `.then` costs less than an await frame.
      const fail = (error: unknown): never => {
        // The shared operations that take (family, key) name the key second.
        const first = args[0] === 'semaphore' || args[0] === 'read-write' ? args[1] : args[0];
        const key =
          typeof first === 'string'
            ? first
            : typeof first === 'object' && first !== null
              ? (first as { key?: string }).key
              : undefined;
        throw toBackendError(name, operation, error, key);
      };
      try {
        return fn(...args).then(undefined, fail);
      } catch (error) {
        return Promise.reject(toBackendError(name, operation, error));
      }
    };
  const { capabilities } = backend;
  return {
    specificationVersion: SPECIFICATION_VERSION,
    name,
    capabilities,
    tryAcquire: guard('tryAcquire', (r) => backend.tryAcquire(r)),
    extend: guard('extend', (r) => backend.extend(r)),
    release: guard('release', (r) => backend.release(r)),
    // The client's backend is reachable (`client.backend`): its inspect() shows the holder's
    // public part, never the whole owner token, which would let the reader release the lock.
    inspect: guard('inspect', (k) =>
      backend.inspect(k).then((state) => state && { ...state, owner: holderOf(state.owner) }),
    ),
    close: guard('close', () => backend.close()),
    ...(capabilities.batchExtend && backend.extendMany
      ? { extendMany: guard('extendMany', (r) => backend.extendMany!(r)) }
      : {}),
    ...(capabilities.handOver && backend.handOver
      ? {
          handOver: guard('handOver', (from, to, yieldToOthers) =>
            backend.handOver!(from, to, yieldToOthers),
          ),
        }
      : {}),
    ...(backend.abandon ? { abandon: guard('abandon', (r) => backend.abandon!(r)) } : {}),
    ...(backend.forceRelease
      ? { forceRelease: guard('forceRelease', (k) => backend.forceRelease!(k)) }
      : {}),
    // Like inspect(): only the holder's public part ever leaves the backend.
    ...(capabilities.list && backend.list
      ? { list: guard('list', (r) => backend.list!(r).then(publicHolders)) }
      : {}),
    ...(backend.purge ? { purge: guard('purge', (k) => backend.purge!(k)) } : {}),
    ...(capabilities.watch && backend.watch
      ? { watch: guard('watch', (k, cb) => backend.watch!(k, cb)) }
      : {}),
    ...(capabilities.nativeWait && backend.waitAcquire
      ? { waitAcquire: guard('waitAcquire', (r) => backend.waitAcquire!(r)) }
      : {}),
    ...(backend.shared ? { shared: guardShared(backend.shared, guard) } : {}),
    ...(backend.tryAcquireMany
      ? {
          tryAcquireMany: guard('tryAcquireMany', (r) =>
            backend.tryAcquireMany!(r).then((results) => {
              // The core pairs results with requests by position: a short answer is a failure.
              if (!Array.isArray(results) || results.length !== r.length)
                throw new Error(
                  `tryAcquireMany answered ${String(results?.length)} results for ${r.length} requests`,
                );
              return results;
            }),
          ),
          ...(backend.manyGroup
            ? {
                // Synchronous: called while the core plans a set, before any I/O.
                manyGroup: (key: string) => {
                  try {
                    return backend.manyGroup!(key);
                  } catch (error) {
                    throw toBackendError(name, 'manyGroup', error, key);
                  }
                },
              }
            : {}),
        }
      : {}),
    ...(backend.election ? { election: guardElection(backend.election, guard) } : {}),
  };
}

type Guard = <A extends unknown[], R>(
  operation: string,
  fn: (...args: A) => Promise<R>,
) => (...args: A) => Promise<R>;

/** The shared-key operations, guarded like the rest (errors named by their SPI method). */
function guardShared(shared: SharedBackend, guard: Guard): SharedBackend {
  const { capabilities } = shared;
  if (typeof capabilities !== 'object' || capabilities === null) {
    throw new LockArgumentError('The backend declares shared operations without capabilities');
  }
  for (const method of ['tryAcquire', 'extend', 'release', 'abandon', 'inspect'] as const) {
    if (typeof shared[method] !== 'function') {
      throw new LockArgumentError(`The backend's shared operations do not implement ${method}()`);
    }
  }
  return {
    capabilities,
    tryAcquire: guard('tryAcquire', (r) => shared.tryAcquire(r)),
    extend: guard('extend', (r) => shared.extend(r)),
    release: guard('release', (r) => shared.release(r)),
    abandon: guard('abandon', (r) => shared.abandon(r)),
    // As for locks: only the holders' public part leaves the backend.
    inspect: guard('inspect', (family, key) =>
      shared.inspect(family, key).then(
        (state) =>
          state && {
            ...state,
            holders: state.holders.map((lease) => ({ ...lease, owner: holderOf(lease.owner) })),
          },
      ),
    ),
    ...(capabilities.batchExtend && shared.extendMany
      ? { extendMany: guard('extendMany', (r) => shared.extendMany!(r)) }
      : {}),
    ...(capabilities.watch && shared.watch
      ? { watch: guard('watch', (family, key, cb) => shared.watch!(family, key, cb)) }
      : {}),
    ...(capabilities.nativeWait && shared.waitAcquire
      ? { waitAcquire: guard('waitAcquire', (r) => shared.waitAcquire!(r)) }
      : {}),
    ...(shared.forceRelease
      ? { forceRelease: guard('forceRelease', (family, key) => shared.forceRelease!(family, key)) }
      : {}),
  };
}

/** The election operations, guarded like the rest; `leader()` shows the public part only. */
function guardElection(election: ElectionBackend, guard: Guard): ElectionBackend {
  const { capabilities } = election;
  if (typeof capabilities !== 'object' || capabilities === null) {
    throw new LockArgumentError('The backend declares election operations without capabilities');
  }
  for (const method of ['campaign', 'extend', 'proclaim', 'resign', 'abandon', 'leader'] as const) {
    if (typeof election[method] !== 'function') {
      throw new LockArgumentError(`The backend's election operations do not implement ${method}()`);
    }
  }
  return {
    capabilities,
    campaign: guard('campaign', (r) => election.campaign(r)),
    extend: guard('extend', (r) => election.extend(r)),
    proclaim: guard('proclaim', (r) => election.proclaim(r)),
    resign: guard('resign', (r) => election.resign(r)),
    abandon: guard('abandon', (r) => election.abandon(r)),
    // The leader's owner token would let the reader resign or proclaim in its name.
    leader: guard('leader', (k) =>
      election.leader(k).then((state) => state && { ...state, owner: holderOf(state.owner) }),
    ),
    ...(capabilities.batchExtend && election.extendMany
      ? { extendMany: guard('extendMany', (r) => election.extendMany!(r)) }
      : {}),
    ...(capabilities.watch && election.watch
      ? { watch: guard('watch', (k, cb) => election.watch!(k, cb)) }
      : {}),
    ...(capabilities.nativeWait && election.waitCampaign
      ? { waitCampaign: guard('waitCampaign', (r) => election.waitCampaign!(r)) }
      : {}),
  };
}

function publicHolders(page: ListPage): ListPage {
  return {
    locks: page.locks.map((state) => ({ ...state, owner: holderOf(state.owner) })),
    cursor: page.cursor,
  };
}
