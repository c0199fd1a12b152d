/**
 * @dlock/lock-mysql benchmarks: per mode, uncontended acquire + release and the hand-off rate of
 * one key among 16 waiting clients, against the floor of one INSERT + one DELETE round trip on
 * the same pool (what any table-based lock costs at least). Skipped with a note when MySQL or
 * MariaDB is not reachable.
 *
 * Run alone: node --expose-gc --import tsx src/mysql.ts
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { ensureSchema, type MysqlLockMode, mysqlBackend } from '@dlock/lock-mysql';
import mysql from 'mysql2/promise';
import { compare, opsPerSecond, type Result } from './harness.js';

const ROUNDS = 5;
const OPS = 400;
const WAITERS = 16;
const SECTIONS_PER_WAITER = 8;
const MYSQL_URL = process.env.DLOCK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const MODES: readonly MysqlLockMode[] = ['row', 'get-lock', 'for-update'];
const FLOOR = 'INSERT + DELETE (floor)';

export async function mysqlBench(): Promise<Result[]> {
  // 16 waiters in the connection-bound modes each hold a connection while they wait.
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: WAITERS + 8 });
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    console.log(`\nSkipping lock-mysql benchmarks: ${MYSQL_URL} unreachable (${String(error)})`);
    await pool.end();
    return [];
  }
  const suffix = randomBytes(4).toString('hex');
  const table = `dlock_bench_${suffix}`;
  const floorTable = `dlock_bench_floor_${suffix}`;
  await ensureSchema(pool, { table });
  await pool.query(`CREATE TABLE \`${floorTable}\` (name VARBINARY(64) PRIMARY KEY) ENGINE=InnoDB`);
  const clients: LockClient[] = [];
  const client = (mode: MysqlLockMode): LockClient => {
    const c = createLockClient(mysqlBackend({ pool, mode, table }), { ttlMs: 10_000 });
    clients.push(c);
    return c;
  };
  const floorOp = async (i: number) => {
    await pool.query(`INSERT INTO \`${floorTable}\` (name) VALUES (?)`, [`k${i}`]);
    await pool.query(`DELETE FROM \`${floorTable}\` WHERE name = ?`, [`k${i}`]);
  };
  const results: Result[] = [];
  try {
    results.push(
      await compare({
        title:
          'lock-mysql: uncontended acquire + release, one key, sequential (MariaDB, localhost)',
        unit: 'ops/s',
        higherIsBetter: true,
        baseline: FLOOR,
        rounds: ROUNDS,
        notes: [
          'Floor: one INSERT and one DELETE on the same pool, the least a table lock can cost.',
          'row: 2 statements; get-lock: GET_LOCK, state INSERT, state UPDATE, RELEASE_LOCK on one',
          'connection; for-update: START TRANSACTION, SELECT … FOR UPDATE NOWAIT, state INSERT,',
          'state UPDATE, COMMIT (the state statements on a second connection).',
        ],
        contenders: [
          { name: FLOOR, round: () => opsPerSecond(OPS, floorOp) },
          ...MODES.map((mode) => {
            const c = client(mode);
            return {
              name: `dlock mode '${mode}'`,
              round: () =>
                opsPerSecond(OPS, async () => {
                  const lock = await c.acquire(`bench:uncontended:${mode}`);
                  await lock.release();
                }),
            };
          }),
        ],
      }),
    );

    results.push(
      await compare({
        title: `lock-mysql: ${WAITERS} clients hand off one key (${WAITERS * SECTIONS_PER_WAITER} sections)`,
        unit: 'sections/s',
        higherIsBetter: true,
        baseline: FLOOR,
        rounds: ROUNDS,
        notes: [
          `Each of ${WAITERS} clients (own backend, as separate processes would be) runs`,
          `${SECTIONS_PER_WAITER} empty critical sections on one key. Default strategy: 'row' polls`,
          '(no server-side wait), the connection-bound modes wait on the server (GET_LOCK /',
          'InnoDB row lock wait). Floor: sequential INSERT + DELETE, i.e. no waiting cost at all.',
        ],
        contenders: [
          {
            name: FLOOR,
            round: async () => {
              const start = performance.now();
              for (let i = 0; i < WAITERS * SECTIONS_PER_WAITER; i++) await floorOp(i);
              return ((WAITERS * SECTIONS_PER_WAITER) / (performance.now() - start)) * 1000;
            },
          },
          ...MODES.map((mode) => {
            const waiters = Array.from({ length: WAITERS }, () => client(mode));
            return {
              name: `dlock mode '${mode}'`,
              round: () => handOff(waiters, `bench:handoff:${mode}`),
            };
          }),
        ],
      }),
    );
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
    await pool.query(`DROP TABLE IF EXISTS \`${floorTable}\``);
    await pool.end();
  }
  return results;
}

async function handOff(clients: readonly LockClient[], key: string): Promise<number> {
  const start = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < SECTIONS_PER_WAITER; i++) await c.using(key, async () => {});
    }),
  );
  return ((clients.length * SECTIONS_PER_WAITER) / (performance.now() - start)) * 1000;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await mysqlBench();
