/**
 * A separate process that takes one lock and keeps it (watchdog on) until it is killed.
 * argv: <endpoints, comma-separated> <prefix> <key> <sessionTtlMs> <ttlMs>
 * Prints `HOLDING <fencing token>` once it holds the lock.
 */
import { createLockClient } from '@dlock/lock-core';
import { Etcd3 } from 'etcd3';
import { etcdBackend } from '../../src/index.js';

const [endpoints, prefix, key, sessionTtlMs, ttlMs] = process.argv.slice(2);
const client = new Etcd3({ hosts: endpoints!.split(',') });
const locks = createLockClient(
  etcdBackend({ client, prefix: prefix!, sessionTtlMs: Number(sessionTtlMs) }),
  { ttlMs: Number(ttlMs) },
);
const lock = await locks.acquire(key!, { autoExtend: true });
lock.signal.addEventListener('abort', () => console.log('LOST'));
console.log(`HOLDING ${lock.fencingToken}`);
// Stay alive until killed.
setInterval(() => {}, 60_000);
