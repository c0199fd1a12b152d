import { join } from 'node:path';
import {
  type PrivateMariadb,
  requireMariadbBinaries,
  startPrivateMariadb,
  startProcess,
  uniquePrefix,
  waitUntil,
} from '@dlock/test-utils';
import { ensureSchema } from '@dlock/tx';
import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, FIXTURES, jsonLines } from './dlock.js';

const binaries = await requireMariadbBinaries();
const COORDINATOR = join(FIXTURES, 'tx-coordinator.mjs');

describe.skipIf(!binaries.available)('dlock tx status / recover (a private MariaDB)', () => {
  let server: PrivateMariadb;
  let base: string;
  let admin: Pool;
  let env: NodeJS.ProcessEnv;
  // Only gids with this prefix are ours to recover.
  const prefix = uniquePrefix('cli')
    .replace(/[^A-Za-z0-9_-]/g, '')
    .slice(0, 16);

  beforeAll(async () => {
    assertBuilt();
    server = await startPrivateMariadb();
    base = server.url.replace(/\/test$/, '');
    admin = createPool({ uri: server.url, connectionLimit: 2 });
    for (const db of ['bank_a', 'bank_b', 'coordinator']) {
      await admin.query(`CREATE DATABASE ${db}`);
    }
    for (const db of ['bank_a', 'bank_b']) {
      await admin.query(
        `CREATE TABLE ${db}.accounts (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB`,
      );
      await admin.query(`INSERT INTO ${db}.accounts VALUES (1, 1000)`);
    }
    const logPool = createPool({ uri: `${base}/coordinator`, connectionLimit: 1 });
    await ensureSchema(logPool);
    await logPool.end();
    env = { ...process.env, DLOCK_TX_URL: `${base}/coordinator` };
    delete env.DLOCK_URL;
  }, 90_000);
  afterAll(async () => {
    await admin?.end();
    await server?.dispose();
  });

  const balances = async () => {
    const [rows] = await admin.query(
      'SELECT (SELECT balance FROM bank_a.accounts WHERE id = 1) AS a, (SELECT balance FROM bank_b.accounts WHERE id = 1) AS b',
    );
    return (rows as { a: number; b: number }[])[0]!;
  };
  const prepared = async () => ((await admin.query('XA RECOVER'))[0] as unknown[]).length;
  const resources = () => ['--resource', `a=${base}/bank_a`, '--resource', `b=${base}/bank_b`];

  /** Runs the coordinator fixture until KILL_AT, SIGKILLs it there, and resolves its gid. */
  async function inDoubt(killAt: string): Promise<string> {
    const child = await startProcess({
      name: 'tx coordinator',
      command: process.execPath,
      args: [COORDINATOR],
      env: { ...process.env, SERVER_URL: base, KILL_AT: killAt, GID_PREFIX: prefix },
      cwd: FIXTURES,
    });
    try {
      const [, gid] = (await child.waitForOutput(/GID (\S+)/, 20_000)) as RegExpMatchArray;
      await child.waitForOutput(/KILLPOINT/, 20_000);
      return gid!;
    } finally {
      await child.kill();
    }
  }

  it('a SIGKILLed coordinator left a decided transaction in doubt: status shows it, recover commits it', async () => {
    const before = await balances();
    const gid = await inDoubt('after-decision');
    const status = await dlock(['tx', 'status', gid, '--json'], { env });
    expect(status.code).toBe(0);
    expect(jsonLines(status.stdout.join('\n'))[0]).toMatchObject({
      gid,
      found: true,
      kind: 'xa',
      state: 'committing',
      branches: [
        { id: 'b1', resource: 'a' },
        { id: 'b2', resource: 'b' },
      ],
    });
    expect(await prepared()).toBe(2);

    // Recovery commits once the dead session's branches are detached (at once on MariaDB when
    // the connection is gone; the first sweep may still find them attached: pending, exit 1).
    let report: Record<string, unknown> = {};
    await waitUntil(
      async () => {
        const run = await dlock(
          ['tx', 'recover', ...resources(), '--gid-prefix', prefix, '--json'],
          {
            env,
          },
        );
        expect([0, 1]).toContain(run.code);
        report = jsonLines(run.stdout.join('\n'))[0] ?? {};
        return run.code === 0 && (report.committed as string[]).includes(gid);
      },
      { timeoutMs: 20_000, intervalMs: 200, message: 'dlock tx recover committed it' },
    );
    expect(report).toMatchObject({ committed: [gid], aborted: [], orphans: [], pending: [] });
    expect(await prepared()).toBe(0);
    expect(await balances()).toEqual({ a: before.a - 10, b: before.b + 10 });

    const plain = await dlock(['tx', 'status', gid], { env });
    expect(plain.code).toBe(0);
    expect(plain.stdout[0]).toBe(`${gid}: committed`);
    expect(plain.stdout.join('\n')).toContain('b2 on b');
  }, 90_000);

  it('prepared branches with no decision are rolled back as orphans past timeout + grace', async () => {
    const before = await balances();
    const gid = await inDoubt('after-all-prepares');
    const unknown = await dlock(['tx', 'status', gid], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout[0]).toContain('no record in the log');
    let output = '';
    await waitUntil(
      async () => {
        const run = await dlock(
          [
            'tx',
            'recover',
            ...resources(),
            '--gid-prefix',
            prefix,
            '--timeout',
            '200ms',
            '--grace',
            '0',
          ],
          { env },
        );
        output = run.output;
        return run.code === 0 && output.includes(`orphan rolled back ${gid}`);
      },
      { timeoutMs: 20_000, intervalMs: 200, message: 'dlock tx recover rolled the orphans back' },
    );
    expect(output).toMatch(/recovery: 0 committed, 0 rolled back, 1 orphan\(s\) rolled back/);
    expect(await prepared()).toBe(0);
    expect(await balances()).toEqual(before);
    const status = await dlock(['tx', 'status', gid, '--json'], { env });
    expect(jsonLines(status.stdout.join('\n'))[0]).toMatchObject({ gid, state: 'aborted' });
  }, 90_000);

  it('nothing in doubt: recover exits 0 with an empty report', async () => {
    const run = await dlock(['tx', 'recover', ...resources(), '--gid-prefix', prefix], { env });
    expect(run.code).toBe(0);
    expect(run.stdout[0]).toBe(
      'recovery: 0 committed, 0 rolled back, 0 orphan(s) rolled back, 0 still pending, 0 need attention',
    );
  }, 30_000);

  it('a missing log table is a backend failure (69), a resource that cannot be reached too', async () => {
    const noTable = await dlock(['tx', 'status', 'dlock.x.y', '--table', 'nope'], { env });
    expect(noTable.code).toBe(69);
    expect(noTable.output).toContain('the log table does not exist');
    const closed = `mysql://root@127.0.0.1:1/bank_a`;
    const down = await dlock(['tx', 'recover', '--resource', `a=${closed}`, '--json'], { env });
    expect(down.code).toBe(69);
    expect(jsonLines(down.stdout.join('\n'))[0]).toMatchObject({ problems: [expect.any(String)] });
  }, 30_000);
});
