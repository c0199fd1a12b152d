import { LockClosedError, type WatchHandle } from '@dlock/lock-core';
import type { DeleteWatch } from './driver.js';

/**
 * A watch the core opened through `watch()`, kept in `watches` until its handle closes it, so
 * that closing the backend can cancel it; closed at once if the backend closed while it opened.
 */
export async function trackWatch(
  watches: Set<DeleteWatch>,
  watch: DeleteWatch,
  closed: boolean,
): Promise<WatchHandle> {
  if (closed) {
    await watch.close();
    throw new LockClosedError();
  }
  watches.add(watch);
  return {
    close: () => {
      watches.delete(watch);
      return watch.close();
    },
  };
}
