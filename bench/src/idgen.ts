/**
 * @dlock/idgen benchmarks: snowflake vs @sapphire/snowflake (speed and duplicates at full
 * speed), UUIDv7/v4 vs the uuid package and crypto.randomUUID(), and the segment generators vs
 * one Redis INCR / one MySQL ticket per id. Redis and MySQL scenarios are skipped (with a note)
 * when the service is not reachable.
 *
 * Run alone: node --expose-gc --import tsx src/idgen.ts
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createSnowflake, uuidv4, uuidv7 } from '@dlock/idgen';
import { mysqlSegment, mysqlTicket } from '@dlock/idgen/mysql';
import { redisIncr, redisSegment } from '@dlock/idgen/redis';
import { Snowflake as SapphireSnowflake } from '@sapphire/snowflake';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { v4 as uuidPkgV4, v7 as uuidPkgV7 } from 'uuid';
import { compare, type Result } from './harness.js';

const ROUNDS = 7;
const EPOCH = Date.UTC(2020, 0, 1);
const REDIS_URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MYSQL_URL = process.env.DLOCK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Synchronous ids per second over `n` calls. */
function syncRate(n: number, op: () => unknown): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) op();
  return (n / (performance.now() - start)) * 1000;
}

/** Awaited ops per second, sequentially, for about `ms` milliseconds (slow and fast peers alike). */
async function timedRate(ms: number, op: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 64; i++) await op();
    n += 64;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (n / elapsed) * 1000;
}

/** Duplicates among `n` ids made flat out by `next`, counted by sorting a BigInt64Array. */
export function countDuplicates(n: number, next: () => bigint): number {
  const ids = new BigInt64Array(n);
  for (let i = 0; i < n; i++) ids[i] = next();
  ids.sort();
  let duplicates = 0;
  for (let i = 1; i < n; i++) if (ids[i] === ids[i - 1]) duplicates++;
  return duplicates;
}

export async function snowflakeBench(): Promise<Result[]> {
  const N = 2_000_000;
  const M = 4_000_000;
  const ours = createSnowflake({ epoch: EPOCH, datacenterId: 1, workerId: 1 });
  const sapphire = new SapphireSnowflake(BigInt(EPOCH));
  // Counted once, before the timed rounds: the duplicate count is a property, not a speed.
  const sapphireDup = countDuplicates(M, () => sapphire.generate());
  const oursDup = countDuplicates(M, () => ours.nextId());
  const count = (n: number) => n.toLocaleString('en-US');
  return [
    await compare({
      title: 'idgen: snowflake ids flat out, one generator (Twitter layout, limit 4,096,000 ids/s)',
      unit: 'ids/s',
      higherIsBetter: true,
      baseline: '@sapphire/snowflake generate()',
      rounds: ROUNDS,
      contenders: [
        {
          name: '@sapphire/snowflake generate()',
          round: () => syncRate(N, () => sapphire.generate()),
        },
        { name: 'dlock createSnowflake nextId()', round: () => syncRate(N, () => ours.nextId()) },
        { name: 'dlock nextIdString()', round: () => syncRate(N, () => ours.nextIdString()) },
      ],
      notes: [
        `Duplicates in ${count(M)} ids made flat out: @sapphire/snowflake ${count(sapphireDup)}, dlock ${count(oursDup)}.`,
        'Target: dlock nextId() >= 90% of the layout limit (>= 3,686,400 ids/s) with zero duplicates. ' +
          '@sapphire/snowflake is faster only because it does not wait when its 12-bit increment wraps: it repeats ids.',
      ],
    }),
  ];
}

export async function uuidBench(): Promise<Result[]> {
  const N = 1_000_000;
  return [
    await compare({
      title: 'idgen: UUIDs per second',
      unit: 'ids/s',
      higherIsBetter: true,
      baseline: 'crypto.randomUUID() (v4)',
      rounds: ROUNDS,
      contenders: [
        { name: 'crypto.randomUUID() (v4)', round: () => syncRate(N, randomUUID) },
        { name: 'dlock uuidv7()', round: () => syncRate(N, uuidv7) },
        { name: 'uuid package v7()', round: () => syncRate(N / 10, () => uuidPkgV7()) },
        { name: 'dlock uuidv4()', round: () => syncRate(N, uuidv4) },
        { name: 'uuid package v4()', round: () => syncRate(N, () => uuidPkgV4()) },
      ],
      notes: ['Target: dlock uuidv7() >= 0.8x crypto.randomUUID().'],
    }),
  ];
}

async function reachable(name: string, check: () => Promise<void>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch (error) {
    console.log(
      `\n(skipped: ${name} not reachable: ${error instanceof Error ? error.message : String(error)})`,
    );
    return false;
  }
}

export async function segmentBench(): Promise<Result[]> {
  const results: Result[] = [];
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const ROUND_MS = 500;

  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  if (await reachable('Redis', () => redis.connect())) {
    const prefix = `dlock-bench:idgen:${tag}:`;
    const plainKey = `${prefix}plain`;
    const incr = redisIncr({ client: redis, key: `${prefix}incr` });
    const seg = redisSegment({ client: redis, key: `${prefix}seg`, step: 10_000, adaptive: false });
    const segAdaptive = redisSegment({ client: redis, key: `${prefix}seg-adaptive`, step: 10_000 });
    try {
      results.push(
        await compare({
          title: 'idgen: Redis ids per second, one process, sequential awaits',
          unit: 'ids/s',
          higherIsBetter: true,
          baseline: 'plain INCR per id (ioredis)',
          rounds: ROUNDS,
          contenders: [
            {
              name: 'plain INCR per id (ioredis)',
              round: () => timedRate(ROUND_MS, () => redis.incr(plainKey)),
            },
            {
              name: 'dlock redisIncr (batch 1)',
              round: () => timedRate(ROUND_MS, () => incr.nextId()),
            },
            {
              name: 'dlock redisSegment step 10,000',
              round: () => timedRate(ROUND_MS, () => seg.nextId()),
            },
            {
              name: 'dlock redisSegment step 10,000 adaptive',
              round: () => timedRate(ROUND_MS, () => segAdaptive.nextId()),
            },
          ],
          notes: ['Target: segment generators >= 1,000,000 ids/s per process with step 10,000.'],
        }),
      );
    } finally {
      await Promise.all([incr.close(), seg.close(), segAdaptive.close()]);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  }
  redis.disconnect();

  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
  if (await reachable('MySQL', async () => void (await pool.query('SELECT 1')))) {
    const tickets = `bench_idgen_ticket_${tag}`;
    const alloc = `bench_idgen_alloc_${tag}`;
    const ticket = mysqlTicket({ pool, table: tickets });
    const seg = mysqlSegment({
      pool,
      bizTag: 'bench',
      table: alloc,
      step: 10_000,
      adaptive: false,
    });
    const segAdaptive = mysqlSegment({
      pool,
      bizTag: 'bench-adaptive',
      table: alloc,
      step: 10_000,
    });
    try {
      await ticket.ensureTable();
      await seg.ensureTable();
      results.push(
        await compare({
          title: 'idgen: MySQL/MariaDB ids per second, one process, sequential awaits',
          unit: 'ids/s',
          higherIsBetter: true,
          baseline: 'dlock mysqlTicket (REPLACE INTO per id)',
          rounds: ROUNDS,
          contenders: [
            {
              name: 'dlock mysqlTicket (REPLACE INTO per id)',
              round: () => timedRate(ROUND_MS, () => ticket.nextId()),
            },
            {
              name: 'dlock mysqlSegment step 10,000',
              round: () => timedRate(ROUND_MS, () => seg.nextId()),
            },
            {
              name: 'dlock mysqlSegment step 10,000 adaptive',
              round: () => timedRate(ROUND_MS, () => segAdaptive.nextId()),
            },
          ],
          notes: ['Target: segment generators >= 1,000,000 ids/s per process with step 10,000.'],
        }),
      );
    } finally {
      await Promise.all([ticket.close(), seg.close(), segAdaptive.close()]);
      await pool.query(`DROP TABLE IF EXISTS \`${tickets}\`, \`${alloc}\``);
    }
  }
  await pool.end();
  return results;
}

/** All idgen comparisons; register as the `idgen` suite in main.ts. */
export async function idgenBench(): Promise<Result[]> {
  return [...(await snowflakeBench()), ...(await uuidBench()), ...(await segmentBench())];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!globalThis.gc) console.warn('Run with node --expose-gc for stable numbers.');
  await idgenBench();
}
