import { type ListPage, type LockBackend, SPECIFICATION_VERSION } from './backend.js';
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
        const first = args[0];
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
  };
}

function publicHolders(page: ListPage): ListPage {
  return {
    locks: page.locks.map((state) => ({ ...state, owner: holderOf(state.owner) })),
    cursor: page.cursor,
  };
}
