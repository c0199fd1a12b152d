import { MemoryStore, memoryBackend } from '../src/index.js';
import type { AcquireRequest, ExtendResult, LockBackend } from '../src/spi.js';

export type Fault = 'none' | 'throw' | 'hang';

/**
 * A memory backend whose calls are logged and whose extend/tryAcquire can be made to fail or
 * hang, to drive the core's failure paths deterministically (with fake timers).
 */
export function scriptedBackend(
  options: { store?: MemoryStore; batch?: boolean; native?: boolean; ordered?: boolean } = {},
) {
  const store = options.store ?? new MemoryStore();
  const inner = memoryBackend({ store });
  const log: string[] = [];
  const faults = { extend: 'none' as Fault, acquire: 'none' as Fault, release: 'none' as Fault };
  /** When set, a successful extend reports this length instead of `true`. */
  const report = { extendTtlMs: undefined as number | undefined };
  const renew = async (r: AcquireRequest): Promise<ExtendResult> => {
    const ok = await inner.extend(r);
    return ok && report.extendTtlMs !== undefined ? { ttlMs: report.extendTtlMs } : ok;
  };
  const hung: (() => void)[] = [];
  const apply = <T>(fault: Fault, run: () => Promise<T>): Promise<T> => {
    if (fault === 'throw') return Promise.reject(new Error('injected driver failure'));
    if (fault === 'hang')
      return new Promise<T>((resolve, reject) => hung.push(() => run().then(resolve, reject)));
    return run();
  };
  const backend: LockBackend = {
    specificationVersion: 1,
    name: 'scripted',
    capabilities: {
      ...inner.capabilities,
      batchExtend: options.batch ?? false,
      nativeWait: options.native ?? false,
      orderedRequests: options.ordered ?? false,
    },
    tryAcquire: (r) => {
      log.push(`acquire ${r.key}`);
      return apply(faults.acquire, () => inner.tryAcquire(r));
    },
    extend: (r) => {
      log.push(`extend ${r.key}`);
      return apply(faults.extend, () => renew(r));
    },
    release: (r) => {
      log.push(`release ${r.key}`);
      return apply(faults.release, () => inner.release(r));
    },
    inspect: (k) => inner.inspect(k),
    watch: (k, f) => inner.watch!(k, f),
    close: () => inner.close(),
    ...(options.batch
      ? {
          extendMany: (rs: readonly AcquireRequest[]) => {
            log.push(`extendMany ${rs.length}`);
            return apply(faults.extend, () => Promise.all(rs.map(renew)));
          },
        }
      : {}),
  };
  return {
    backend,
    store,
    log,
    faults,
    report,
    releaseHung: () => {
      for (const resume of hung.splice(0)) resume();
    },
  };
}
