import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lock } from '@dlock/lock-core';
import { UsageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import type { Io } from '../io.js';
import { openClient } from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import type { WorkerMessage } from './messages.js';
import { readResource, writeResource } from './resource.js';

/**
 * One contender of `dlock demo` (started by it as its own process): `--sections` times, take the
 * lock, read the counter, "work" a little, write counter + 1 with the fencing token, release.
 * The pause between read and write is what would lose updates without the lock. With
 * `--freeze-at VALUE`, the section that reads the counter at VALUE waits to be frozen past its
 * lease before it writes.
 */
export async function demoWorkerCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values } = parseOptions('demo-worker', {
    args: [...argv],
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      dir: { type: 'string' },
      sections: { type: 'string' },
      id: { type: 'string' },
      'ttl-ms': { type: 'string', default: '10000' },
      'freeze-at': { type: 'string' },
    },
  });
  const w = Number(values.id);
  const sections = Number(values.sections);
  const ttlMs = Number(values['ttl-ms']);
  const freezeAt = values['freeze-at'] === undefined ? -1 : Number(values['freeze-at']);
  const { dir, key } = values;
  const url = values.url ?? io.env.DLOCK_URL;
  // Internal, started only by `dlock demo`; still, a bad call says so instead of doing nothing.
  if (
    !url ||
    !key ||
    !dir ||
    !Number.isInteger(w) ||
    w < 0 ||
    !Number.isInteger(sections) ||
    !Number.isInteger(ttlMs) ||
    ttlMs < 1 ||
    !Number.isInteger(freezeAt)
  ) {
    throw new UsageError(
      'usage: dlock demo-worker [--url URL, else $DLOCK_URL] --key KEY --dir DIR --sections N --id N [--ttl-ms MS] [--freeze-at VALUE]',
    );
  }
  const send = (message: WorkerMessage): void => {
    io.stdout.write(`${JSON.stringify(message)}\n`);
  };
  // Short polling backoff: on the embedded backend waiters poll, and the default backoff (up to
  // 500 ms) would let the releasing worker win again and again, which makes a dull show.
  const client = await openClient(url, {
    ttlMs,
    clientId: `demo-worker-${w + 1}`,
    poll: { initialDelayMs: 1, maxDelayMs: 20 },
  });
  let waits = 0;
  try {
    for (let i = 0; i < sections; i++) {
      let lock: Lock | null = await client.tryAcquire(key, { autoExtend: true });
      if (!lock) {
        waits++;
        send({ t: 'wait', w });
        lock = await client.acquire(key, { autoExtend: true, waitTimeoutMs: 120_000 });
      }
      try {
        const token = lock.fencingToken;
        send({ t: 'enter', w, token: token.toString() });
        const { value } = readResource(dir);
        await sleep(1 + Math.random() * 4);
        // The holder's own check; the resource's token check below catches what this misses.
        const held = !lock.signal.aborted;
        // The one worker that reads the counter at --freeze-at (the lock lets only one read it
        // before it changes) pauses there; the others still have sections to take over with.
        if (value === freezeAt) {
          // A pause between the check and the write (a GC pause, a swapped-out VM), made real:
          // `dlock demo` stops this process (SIGSTOP) until another worker has written after
          // the lease ran out, then wakes it (SIGCONT), and it writes as if nothing happened.
          const woken = once(process, 'SIGCONT');
          // A signal listener does not keep the event loop alive; this timer does meanwhile.
          const alive = setInterval(() => {}, 60_000);
          send({ t: 'freeze', w, token: token.toString() });
          await woken.finally(() => clearInterval(alive));
        }
        const accepted = held && writeResource(dir, value + 1, token);
        send({ t: 'leave', w, token: token.toString(), accepted });
      } finally {
        await lock.release();
      }
      // Step back a moment, so the view shows the lock moving between workers.
      await sleep(2 + Math.random() * 8);
    }
  } finally {
    await client.close();
  }
  send({ t: 'done', w, sections, waits });
  return EXIT.OK;
}
