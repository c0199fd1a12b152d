/**
 * A separate process that takes the same lock again and again and writes to a shared log while
 * it holds it, until the stop file appears.
 * argv: <endpoints, comma-separated> <prefix> <key> <log file> <stop file>
 *
 * Log lines: `enter <token> <pid>` when it starts working under the lock, `exit <token> <pid>` when
 * it finishes, `lost <token> <pid>` the moment the lock's signal aborts (it stops working then).
 */
import { appendFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLockClient } from '@dlock/lock-core';
import { Etcd3 } from 'etcd3';
import { etcdBackend } from '../../src/index.js';

const [endpoints, prefix, key, log, stopFile] = process.argv.slice(2);
const client = new Etcd3({ hosts: endpoints!.split(',') });
const locks = createLockClient(
  etcdBackend({ client, prefix: prefix!, sessionTtlMs: 6_000, requestTimeoutMs: 2_000 }),
  { ttlMs: 4_000 },
);
const write = (line: string): void => appendFileSync(log!, `${line} ${process.pid}\n`);

let grants = 0;
let errors = 0;
console.log('READY');
while (!existsSync(stopFile!)) {
  try {
    await locks.using(
      key!,
      async (signal, lock) => {
        const token = lock.fencingToken;
        let lost = false;
        signal.addEventListener('abort', () => {
          lost = true;
          write(`lost ${token}`);
        });
        write(`enter ${token}`);
        await sleep(5 + Math.random() * 20);
        if (!lost) write(`exit ${token}`);
        grants++;
      },
      { waitTimeoutMs: 30_000 },
    );
  } catch (error) {
    // Elections and stopped members make some requests fail; the lock stays correct, we retry.
    errors++;
    console.error(`attempt failed: ${(error as Error).message}`);
    await sleep(50);
  }
}
await locks.close();
client.close();
console.log(`DONE grants=${grants} errors=${errors}`);
