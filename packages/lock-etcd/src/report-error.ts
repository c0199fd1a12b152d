import { channels } from '@dlock/lock-core';

/** A best-effort step failed with nobody to tell: publish it on `dlock:error` (`{ where, error }`). */
export function reportError(where: string, error: unknown): void {
  if (channels.error.hasSubscribers) channels.error.publish({ where: `etcd ${where}`, error });
}
