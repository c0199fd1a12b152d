import { reportError } from './diagnostics.js';
import type { TxLog, TxState } from './log.js';

/**
 * The final state write after a finished second phase runs in the background: the outcome is
 * already fixed by the decision, and if the write is lost recovery redoes the (idempotent)
 * second phase and writes it. Outcomes that arrive while a write runs go out together in the
 * next one (one statement for many transactions when the log has `finishMany`), like a group
 * commit. `status()` and `close()` wait for them.
 */
export interface OutcomeWriter {
  record(gid: string, from: TxState, to: TxState): void;
  /** The pending write of `gid`, if any. */
  pending(gid: string): Promise<void> | undefined;
  /** Resolves once every queued write is done. */
  drain(): Promise<void>;
}

export function outcomeWriter(log: TxLog): OutcomeWriter {
  const writes = new Map<string, Promise<void>>();
  let queued: { gid: string; from: TxState; to: TxState; done: () => void }[] = [];
  let flushing: Promise<void> | null = null;
  async function flush(): Promise<void> {
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
      const groups = new Map<string, typeof batch>();
      for (const item of batch) {
        const key = `${item.from}>${item.to}`;
        groups.set(key, [...(groups.get(key) ?? []), item]);
      }
      for (const items of groups.values()) {
        const { from, to } = items[0]!;
        const gids = items.map((x) => x.gid);
        try {
          if (log.finishMany && gids.length > 1) await log.finishMany(gids, from, to);
          else for (const gid of gids) await log.update(gid, [from], { state: to });
        } catch (error) {
          reportError('log-update', error, gids.join(','));
        }
        for (const item of items) item.done();
      }
    }
  }
  return {
    record(gid, from, to) {
      const written = new Promise<void>((resolve) => {
        queued.push({ gid, from, to, done: resolve });
      }).finally(() => writes.delete(gid));
      writes.set(gid, written);
      flushing ??= flush().finally(() => {
        flushing = null;
      });
    },
    pending: (gid) => writes.get(gid),
    async drain() {
      await flushing;
      await Promise.all([...writes.values()]);
    },
  };
}
