/**
 * @dlock/lock-sqlite benchmarks: uncontended acquire + release through the full client, with
 * `synchronous` FULL and NORMAL, against the floor of the same file doing one INSERT and one
 * DELETE transaction with the same pragmas (what any SQLite-table lock costs at least); and the
 * hand-off rate of one key among 8 clients on separate connections (polling waits).
 *
 * Run alone: node --expose-gc --import tsx src/sqlite.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLockClient, type LockClient } from '@dlock/lock-core';
import { sqliteBackend } from '@dlock/lock-sqlite';
import Database from 'better-sqlite3';
import { compare, opsPerSecond, type Result } from './harness.js';

const ROUNDS = 5;
const OPS = 500;
const WAITERS = 8;
const SECTIONS_PER_WAITER = 10;
const FLOOR = 'INSERT + DELETE (floor)';

export async function sqliteBench(): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'dlock-bench-sqlite-'));
  const clients: LockClient[] = [];
  const client = (file: string, synchronous: 'full' | 'normal'): LockClient => {
    const c = createLockClient(sqliteBackend({ path: join(dir, file), synchronous }), {
      ttlMs: 10_000,
      poll: { initialDelayMs: 1, maxDelayMs: 20 },
    });
    clients.push(c);
    return c;
  };
  const cycle = (c: LockClient) => async (i: number) => {
    const lock = await c.acquire(`k${i % 16}`);
    await lock.release();
  };
  // The floor: the same file and pragmas, one row inserted and deleted in two transactions.
  const raw = new Database(join(dir, 'floor.db'), { timeout: 5_000 });
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.exec('CREATE TABLE IF NOT EXISTS floor (k TEXT PRIMARY KEY) WITHOUT ROWID');
  const insert = raw.prepare('INSERT INTO floor (k) VALUES (?)');
  const remove = raw.prepare('DELETE FROM floor WHERE k = ?');
  const insertTx = raw.transaction((k: string) => insert.run(k));
  const removeTx = raw.transaction((k: string) => remove.run(k));

  const full = client('full.db', 'full');
  const normal = client('normal.db', 'normal');
  const results: Result[] = [];
  try {
    results.push(
      await compare({
        title: 'lock-sqlite: uncontended acquire + release, 16 keys, sequential (local disk)',
        unit: 'ops/s',
        higherIsBetter: true,
        baseline: FLOOR,
        rounds: ROUNDS,
        contenders: [
          {
            name: FLOOR,
            round: () =>
              opsPerSecond(OPS, (i) => {
                insertTx.immediate(`k${i}`);
                removeTx.immediate(`k${i}`);
              }),
          },
          {
            name: "sqlite synchronous 'full' (default)",
            round: () => opsPerSecond(OPS, cycle(full)),
          },
          { name: "sqlite synchronous 'normal'", round: () => opsPerSecond(OPS, cycle(normal)) },
        ],
        notes: [
          'Each acquire and release is one BEGIN IMMEDIATE transaction, so the floor (WAL, synchronous FULL like the default) is the target: a ratio near 1 means the client adds little. NORMAL skips the fsync per commit.',
        ],
      }),
    );
    const contenders = Array.from({ length: WAITERS }, () => client('handoff.db', 'normal'));
    results.push(
      await compare({
        title: `lock-sqlite: hand-off of one key among ${WAITERS} clients (separate connections, polling)`,
        unit: 'sections/s',
        higherIsBetter: true,
        baseline: 'sqlite poll',
        rounds: ROUNDS,
        contenders: [
          {
            name: 'sqlite poll',
            round: async () => {
              const start = performance.now();
              await Promise.all(
                contenders.map(async (c) => {
                  for (let i = 0; i < SECTIONS_PER_WAITER; i++) {
                    await c.using('handoff', () => undefined);
                  }
                }),
              );
              return ((WAITERS * SECTIONS_PER_WAITER) / (performance.now() - start)) * 1000;
            },
          },
        ],
        notes: ['In one process for comparability; across processes the waits are the same polls.'],
      }),
    );
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await sqliteBench();
