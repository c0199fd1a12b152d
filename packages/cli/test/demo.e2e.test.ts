import { createRequire } from 'node:module';
import { join } from 'node:path';
import { makeTempDir, requireRedis, SHARED_REDIS_URL, uniquePrefix } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, jsonLines } from './dlock.js';

// `dlock demo` as users run it: real worker processes, one of them frozen (SIGSTOP) past its
// lease and woken (SIGCONT), whose late write the file must refuse by its fencing token.

const redis = await requireRedis();

/** The SQLite driver the CLI's backend uses on this Node.js: node:sqlite, else better-sqlite3. */
type Database = { prepare(sql: string): { get(): unknown }; close(): void };
type SqliteModule = {
  DatabaseSync: new (path: string, options: { readOnly: boolean }) => Database;
};
const nodeSqlite = process.getBuiltinModule?.('node:sqlite') as SqliteModule | undefined;
function openReadOnly(path: string): Database {
  if (nodeSqlite) return new nodeSqlite.DatabaseSync(path, { readOnly: true });
  const BetterSqlite3 = createRequire(import.meta.resolve('@dlock/lock-sqlite'))(
    'better-sqlite3',
  ) as new (
    path: string,
    options: { readonly: boolean },
  ) => Database;
  return new BetterSqlite3(path, { readonly: true });
}

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-demo-e2e-');
  env = { ...process.env, DLOCK_SQLITE_PATH: join(dir.path, 'default.db') };
  delete env.DLOCK_URL;
});
afterAll(() => dir.remove());

interface Verdict {
  ok: boolean;
  counter: number;
  sectionsDone: number;
  lostUpdates: number;
  rejectedStaleWrites: number;
  frozenWorker: { worker: number; token: string; supersededBy: string; lateWriteRefused: boolean };
  fencingTokensInOrder: boolean;
  cleanup: string;
  failedWorkers: unknown[];
}

async function demoVerdict(args: string[], demoEnv: NodeJS.ProcessEnv): Promise<Verdict> {
  const result = await dlock(['demo', ...args, '--json'], { env: demoEnv });
  expect(result.code, result.output).toBe(0);
  return jsonLines(result.stdout.join('\n'))[0] as unknown as Verdict;
}

/** The frozen worker's write came after another worker's, with an older token, and was refused. */
function expectLateWriteRefused(verdict: Verdict, sections: number): void {
  expect(verdict).toMatchObject({
    ok: true,
    sectionsDone: sections,
    lostUpdates: 0,
    fencingTokensInOrder: true,
    failedWorkers: [],
    frozenWorker: { lateWriteRefused: true },
  });
  expect(BigInt(verdict.frozenWorker.supersededBy)).toBeGreaterThan(
    BigInt(verdict.frozenWorker.token),
  );
  expect(verdict.rejectedStaleWrites).toBeGreaterThanOrEqual(1);
  // Every section either landed or was refused: the refused ones are missing from the counter.
  expect(verdict.counter).toBe(sections - verdict.rejectedStaleWrites);
}

describe('dlock demo on the embedded SQLite backend', () => {
  it('freezes a worker past its lease: its late write is refused by the token check', async () => {
    expectLateWriteRefused(await demoVerdict(['--workers', '3', '--sections', '6'], env), 18);
  }, 60_000);

  it('says so in the plain verdict, with the line saying why it matters', async () => {
    const plain = await dlock(['demo', '--workers', '2', '--sections', '5'], { env });
    expect(plain.code, plain.output).toBe(0);
    expect(plain.output).toMatch(/^progress 10\/10 sections/m);
    expect(plain.output).toMatch(/^worker \d checked it holds the lock \(token \d+\), then froze/m);
    expect(plain.output).toMatch(/took the lock over and wrote \(token \d+\); worker \d wakes/);
    expect(plain.output).toMatch(
      /^stale writes refused: {4}1 \(worker \d's late write with token \d+, after token \d+\)$/m,
    );
    expect(plain.output).toMatch(/^why it matters: /m);
    expect(plain.output).toContain('lost updates:            0');
    expect(plain.output).toContain('verdict: OK');
    expect(plain.output).not.toContain('\x1b[');
  }, 60_000);

  it('purges its key from a SQLite file it was given', async () => {
    const url = `sqlite:${join(dir.path, 'given.db')}`;
    const verdict = await demoVerdict(['--workers', '2', '--sections', '3', '--no-freeze'], {
      ...env,
      DLOCK_URL: url,
    });
    expect(verdict).toMatchObject({ ok: true, cleanup: 'purged' });
    const db = openReadOnly(join(dir.path, 'given.db'));
    try {
      expect(db.prepare('SELECT count(*) AS n FROM dlock_locks').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  }, 60_000);

  it('--no-freeze runs every section without a freeze', async () => {
    const verdict = await demoVerdict(['--workers', '3', '--sections', '8', '--no-freeze'], env);
    expect(verdict).toMatchObject({
      ok: true,
      sectionsDone: 24,
      counter: 24,
      lostUpdates: 0,
      rejectedStaleWrites: 0,
      frozenWorker: null,
      fencingTokensInOrder: true,
    });
  }, 60_000);
});

describe.skipIf(!redis.available)('dlock demo on Redis', () => {
  it('freezes a worker past its lease: its late write is refused by the token check', async () => {
    const prefix = uniquePrefix('demo');
    const url = new URL(SHARED_REDIS_URL);
    url.searchParams.set('prefix', prefix);
    const verdict = await demoVerdict(['--workers', '3', '--sections', '6'], {
      ...env,
      DLOCK_URL: url.href,
    });
    expectLateWriteRefused(verdict, 18);
    expect(verdict.cleanup).toBe('purged');
    // Redis tokens are floored at the server's time in µs (docs/guarantees.md, fencing floor).
    const client = new Redis(SHARED_REDIS_URL);
    try {
      const seconds = String((await client.time())[0]);
      expect(BigInt(verdict.frozenWorker.token)).toBeLessThan(BigInt(seconds) * 1_000_000n);
      expect(BigInt(verdict.frozenWorker.token)).toBeGreaterThan(
        (BigInt(seconds) - 120n) * 1_000_000n,
      );
      // Nothing left behind: no lock, fencing counter or waiter flag under the demo's prefix.
      const [, left] = await client.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
      expect(left).toEqual([]);
    } finally {
      client.disconnect();
    }
  }, 60_000);
});
