import { channels } from '@dlock/lock-core';

/**
 * A best-effort step failed with nobody to tell: publish it on `dlock:error` with the SPI
 * operation it belongs to and the lock key, when there is one (`{ where, key?, error }`).
 */
export function reportError(operation: string, key: string | undefined, error: unknown): void {
  if (!channels.error.hasSubscribers) return;
  channels.error.publish({
    where: `etcd ${operation}`,
    ...(key === undefined ? {} : { key }),
    error,
  });
}
