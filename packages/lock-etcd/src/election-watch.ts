/**
 * `watch()` for an election: every put and deletion under its candidate prefix (a grant, a
 * proclaim, a resign, an expiry, a new candidate) calls `onChange`; spurious calls are harmless.
 * After a reconnect or a stream error (a compacted revision: etcd3 resumes a watch from the last
 * revision it saw, which may be compacted by then) events may have been missed, so `onChange`
 * runs once and the watch is opened afresh from the current revision.
 */
import type { DeleteWatch, EtcdDriver } from './driver.js';
import { reportError } from './report-error.js';

/** Retry opening a watch after a failure this soon. */
const RETRY_MS = 500;

export async function watchElection(
  driver: Pick<EtcdDriver, 'watchChanges'>,
  queue: string,
  onChange: () => void,
): Promise<DeleteWatch> {
  let closed = false;
  let current: DeleteWatch | undefined;
  let retry: NodeJS.Timeout | undefined;
  const open = (): Promise<DeleteWatch> =>
    driver.watchChanges({ prefix: queue }, undefined, {
      onChange: () => onChange(),
      onResync: () => {
        onChange();
        reopen();
      },
    });
  const reopen = (): void => {
    if (closed) return;
    const old = current;
    current = undefined;
    void old?.close();
    open().then(
      (watch) => {
        if (closed) {
          void watch.close();
          return;
        }
        current = watch;
        // Anything between the old stream's end and this one's start.
        onChange();
      },
      (error: unknown) => {
        reportError('watch', undefined, error);
        retry = setTimeout(reopen, RETRY_MS);
        retry.unref();
      },
    );
  };
  current = await open();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const watch = current;
      current = undefined;
      await watch?.close();
    },
  };
}
