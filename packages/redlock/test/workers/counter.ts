/**
 * Multi-process exclusion worker over Redlock: SECTIONS times, take the lock, read the shared
 * counter file, yield to the event loop and the OS, write counter+1 and append
 * `token pid value` to the log, release. A lost update or an out-of-order token shows up in the
 * files the test checks. Env: NODE_PORTS (comma-separated), LOCK_KEY, LOCK_PREFIX, COUNTER_FILE,
 * LOG_FILE, SECTIONS.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep, setImmediate as yieldNow } from 'node:timers/promises';
import { createLockClient } from '@dlock/lock-core';
import { Redis } from 'ioredis';
import { redlockBackend } from '../../src/index.js';

const env = process.env as Record<string, string>;
const clients = env
  .NODE_PORTS!.split(',')
  .map((port) => new Redis({ host: '127.0.0.1', port: Number(port), enableOfflineQueue: false }));
await Promise.all(
  clients.map(
    (c) => new Promise((resolve) => (c.status === 'ready' ? resolve(0) : c.once('ready', resolve))),
  ),
);
const locks = createLockClient(
  redlockBackend({ clients, prefix: env.LOCK_PREFIX!, nodeTimeoutMs: 200 }),
  { ttlMs: 5_000 },
);
console.log('READY');
for (let i = 0; i < Number(env.SECTIONS); i++) {
  await locks.using(
    env.LOCK_KEY!,
    async (_signal, lock) => {
      const value = Number(await readFile(env.COUNTER_FILE!, 'utf8'));
      await yieldNow();
      if (i % 7 === 0) await sleep(1);
      await writeFile(env.COUNTER_FILE!, String(value + 1));
      await appendFile(env.LOG_FILE!, `${lock.fencingToken} ${process.pid} ${value + 1}\n`);
    },
    { waitTimeoutMs: 60_000 },
  );
}
await locks.close();
await Promise.all(clients.map((c) => c.quit()));
console.log('DONE');
