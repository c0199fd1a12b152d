import { setTimeout as sleep } from 'node:timers/promises';

/** A lock implementation under comparison: take `key` (waiting while busy), get its release. */
export interface Peer {
  readonly name: string;
  lock(key: string): Promise<() => Promise<unknown>>;
}

/**
 * `waiters` concurrent tasks in one process share `sections` critical sections of about 1 ms on
 * one key; resolves the sections per second.
 */
export async function handOff(
  peer: Peer,
  key: string,
  { waiters, sections }: { waiters: number; sections: number },
): Promise<number> {
  let left = sections;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: waiters }, async () => {
      while (left > 0) {
        const release = await peer.lock(key);
        try {
          if (left > 0) {
            left--;
            await sleep(1);
          }
        } finally {
          await release();
        }
      }
    }),
  );
  return sections / ((performance.now() - started) / 1000);
}
