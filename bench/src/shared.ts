/**
 * Semaphores and read-write locks (issue 12's figures), each comparison in one process with
 * alternating rounds:
 *
 * 1. Redis, 64 tasks against a semaphore of limit 4, ~1 ms sections: dlock's semaphore against
 *    redis-semaphore's `Semaphore` (same limit, same load) and the ideal (4 workers, no lock),
 *    plus the server commands per section.
 * 2. Uncontended acquire + release of a semaphore (limit 4), a read lock and a write lock against
 *    dlock's own mutex on the same backend: Redis, SQLite, MySQL/MariaDB and etcd.
 * 3. Redis, read-heavy load (95% reads, 16 tasks, ~1 ms sections): the read-write lock against
 *    the same load on the mutex.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { etcdBackend } from '@dlock/lock-etcd';
import { ensureSchema, mysqlBackend } from '@dlock/lock-mysql';
import { redisBackend } from '@dlock/lock-redis';
import { sqliteBackend } from '@dlock/lock-sqlite';
import { Etcd3 } from 'etcd3';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { Semaphore } from 'redis-semaphore';
import { type Contender, compare, median, opsPerSecond, print, type Result } from './harness.js';
import { commandsProcessed, deleteKeys, sectionsPerSecond } from './peers.js';

const REDIS_URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MYSQL_URL = process.env.DLOCK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const ETCD_URL = process.env.DLOCK_ETCD_URL ?? 'http://127.0.0.1:2379';
const ROUNDS = 5;
const TASKS = 64;
const LIMIT = 4;
const SECTIONS = 640;
const READ_TASKS = 16;
const READ_SECTIONS = 1_600;
const TTL = 30_000;

/** Mutex, semaphore, read and write: one acquire + release each, `ops` times in a row. */
function uncontended(locks: LockClient, ops: number, key: string): Contender[] {
  const semaphore = locks.semaphore(`${key}:sem`, { limit: LIMIT });
  const rw = locks.readWriteLock(`${key}:rw`);
  const pair = (take: () => Promise<{ release(): Promise<boolean> }>) => async () =>
    opsPerSecond(ops, async () => (await take()).release());
  return [
    { name: 'mutex', round: pair(() => locks.acquire(`${key}:mutex`)) },
    { name: `semaphore (limit ${LIMIT})`, round: pair(() => semaphore.acquire()) },
    { name: 'read lock', round: pair(() => rw.read.acquire()) },
    { name: 'write lock', round: pair(() => rw.write.acquire()) },
  ];
}

async function uncontendedOn(backend: string, locks: LockClient, ops: number): Promise<Result> {
  return compare({
    title: `${backend}: uncontended acquire + release, one key, sequential`,
    unit: 'ops/s',
    higherIsBetter: true,
    baseline: 'mutex',
    rounds: ROUNDS,
    notes: ['Target (issue 12): a semaphore at least 0.9x the mutex on the same backend.'],
    contenders: uncontended(locks, ops, `u${randomBytes(3).toString('hex')}`),
  });
}

async function redisFigures(results: Result[]): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = `dlock-bench-shared:${process.pid}:`;
  const locks = createLockClient(redisBackend({ client: redis, prefix: `${prefix}dlock:` }), {
    ttlMs: TTL,
  });
  try {
    const commands = new Map<string, number[]>();
    const counted = (name: string, run: () => Promise<number>): Contender => ({
      name,
      async round() {
        const before = await commandsProcessed(redis);
        const rate = await run();
        const after = await commandsProcessed(redis);
        const list = commands.get(name) ?? [];
        // Minus the INFO call that took the first reading.
        list.push((after - before - 1) / SECTIONS);
        commands.set(name, list);
        return rate;
      },
    });
    const dlockSemaphore = locks.semaphore('contended', { limit: LIMIT });
    const peerName = 'redis-semaphore Semaphore';
    results.push(
      await compare({
        title: `redis: ${TASKS} tasks in one process, semaphore of limit ${LIMIT}, ${SECTIONS} sections of ~1 ms`,
        unit: 'sections/s',
        higherIsBetter: true,
        baseline: peerName,
        rounds: ROUNDS,
        notes: [
          `Ideal: ${LIMIT} workers running the sections with no lock (the most any semaphore allows).`,
          'redis-semaphore polls every 10 ms (its retryInterval); dlock lines the tasks up locally',
          "and wakes the next on the release's pub/sub message. Target (issue 12): >= 1.5x.",
        ],
        contenders: [
          {
            name: `ideal (${LIMIT} workers, no lock)`,
            round: () => sectionsPerSecond(LIMIT, SECTIONS, async () => async () => {}),
          },
          counted('@dlock/lock-redis semaphore', () =>
            sectionsPerSecond(TASKS, SECTIONS, async () => {
              const permit = await dlockSemaphore.acquire();
              return () => permit.release();
            }),
          ),
          counted(peerName, () =>
            sectionsPerSecond(TASKS, SECTIONS, async () => {
              const semaphore = new Semaphore(redis, `${prefix}peer:contended`, LIMIT, {
                lockTimeout: TTL,
                acquireTimeout: 120_000,
                retryInterval: 10,
                refreshInterval: 0,
              });
              await semaphore.acquire();
              return () => semaphore.release();
            }),
          ),
        ],
      }),
    );
    const base = median(commands.get(peerName)!);
    const commandResult: Result = {
      title: 'redis: server commands per section in the same run (INFO total_commands_processed)',
      unit: 'commands/section',
      baseline: peerName,
      higherIsBetter: false,
      rows: [...commands].map(([name, samples]) => ({
        name,
        median: median(samples),
        min: Math.min(...samples),
        max: Math.max(...samples),
        ratio: median(samples) / base,
        samples,
      })),
      notes: [
        'Every command the server processed, the calls inside Lua scripts included; target',
        '(issue 12): <= 0.5x. Assumes no other traffic on the server during the run.',
      ],
    };
    print(commandResult);
    results.push(commandResult);

    results.push(await uncontendedOn('redis', locks, 3_000));

    const rw = locks.readWriteLock('read-heavy');
    // The same sequence of reads and writes for both: section i is a write when i % 20 === 0.
    const isWrite = (i: number) => i % 20 === 0;
    results.push(
      await compare({
        title: `redis: read-heavy load (95% reads), ${READ_TASKS} tasks, ${READ_SECTIONS} sections of ~1 ms`,
        unit: 'sections/s',
        higherIsBetter: true,
        baseline: 'mutex (every section exclusive)',
        rounds: ROUNDS,
        notes: ['Target (issue 12): the read-write lock >= 3x the mutex on the same load.'],
        contenders: [
          {
            name: 'mutex (every section exclusive)',
            round: () =>
              sectionsPerSecond(READ_TASKS, READ_SECTIONS, async () => {
                const lock = await locks.acquire('read-heavy-mutex');
                return () => lock.release();
              }),
          },
          {
            name: 'read-write lock',
            round: () =>
              sectionsPerSecond(READ_TASKS, READ_SECTIONS, async (i) => {
                const lock = await (isWrite(i) ? rw.write : rw.read).acquire();
                return () => lock.release();
              }),
          },
        ],
      }),
    );
  } finally {
    await locks.close();
    await deleteKeys(redis, `*${prefix}*`);
    await redis.quit();
  }
}

async function sqliteFigures(results: Result[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dlock-bench-shared-'));
  const locks = createLockClient(sqliteBackend({ path: join(dir, 'locks.db') }), { ttlMs: TTL });
  try {
    results.push(await uncontendedOn('sqlite', locks, 2_000));
  } finally {
    await locks.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function mysqlFigures(results: Result[]): Promise<void> {
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 8 });
  const table = `dlock_bench_shared_${randomBytes(4).toString('hex')}`;
  try {
    await ensureSchema(pool, { table });
    const locks = createLockClient(mysqlBackend({ pool, table }), { ttlMs: TTL });
    try {
      results.push(await uncontendedOn('mysql (row mode)', locks, 500));
    } finally {
      await locks.close();
    }
  } finally {
    for (const name of [table, `${table}_shared`, `${table}_leases`, `${table}_waiters`]) {
      await pool.query(`DROP TABLE IF EXISTS \`${name}\``);
    }
    await pool.end();
  }
}

async function etcdFigures(results: Result[]): Promise<void> {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = `dlock-bench-shared-${process.pid}/`;
  const locks = createLockClient(etcdBackend({ client, prefix }), { ttlMs: TTL });
  try {
    results.push(await uncontendedOn('etcd', locks, 500));
  } finally {
    await locks.close();
    await client.delete().prefix(prefix);
    client.close();
  }
}

export async function sharedBench(): Promise<Result[]> {
  const results: Result[] = [];
  await redisFigures(results);
  await sqliteFigures(results);
  await mysqlFigures(results);
  await etcdFigures(results);
  return results;
}
