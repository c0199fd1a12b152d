import { requireMysql, SHARED_MYSQL_URL, uniqueName } from '@dlock/test-utils';
import { ensureSchema, mysqlTxLog } from '@dlock/tx';
import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureIo } from './capture-io.js';

describe('dlock tx: usage (before any I/O)', () => {
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const io = captureIo(env);
    const code = await main(['tx', ...args], io);
    return { code, out: io.out(), err: io.err() };
  };

  it('prints its help, and is listed in dlock --help', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('dlock tx recover');
    const io = captureIo();
    await main(['--help'], io);
    expect(io.out()).toContain('tx status GID');
  });

  it('refuses a missing subcommand, a missing gid and a missing log URL', async () => {
    expect((await run([])).code).toBe(64);
    expect((await run(['status'])).code).toBe(64);
    expect((await run(['frobnicate'])).code).toBe(64);
    const noLog = await run(['status', 'g']);
    expect(noLog.code).toBe(64);
    expect(noLog.err).toContain('DLOCK_TX_URL');
  });

  it('refuses URLs that are not mysql:// with a database, and bad --resource specs, hiding passwords', async () => {
    const redis = await run(['status', 'g', '--log', 'redis://u:secret@127.0.0.1:6379']);
    expect(redis.code).toBe(64);
    expect(redis.err).not.toContain('secret');
    expect((await run(['status', 'g', '--log', 'mysql://127.0.0.1:3306'])).code).toBe(64);
    expect((await run(['status', 'g', '--log', 'not a url'])).code).toBe(64);
    const env = { DLOCK_TX_URL: 'mysql://root@127.0.0.1:1/log' };
    expect((await run(['recover', '--resource', 'noequals'], env)).code).toBe(64);
    expect((await run(['recover', '--resource', '=mysql://h/db'], env)).code).toBe(64);
    const bad = await run(['recover', '--resource', 'a=mysql://u:secret@h'], env);
    expect(bad.code).toBe(64);
    expect(bad.err).not.toContain('secret');
    expect((await run(['status', 'g', '--resource', 'a=mysql://h/db'], env)).code).toBe(64);
    expect((await run(['recover', '--timeout', 'soon'], env)).code).toBe(64);
  });

  it('an unreachable log is a backend failure (69), as JSON too', async () => {
    const env = { DLOCK_TX_URL: 'mysql://root:pw@127.0.0.1:1/log' };
    const down = await run(['status', 'g', '--json'], env);
    expect(down.code).toBe(69);
    expect(JSON.parse(down.out)).toMatchObject({ ok: false, error: 'backend' });
    expect(down.out).not.toContain(':pw@');
  });
});

const mysql = await requireMysql();

describe.skipIf(!mysql.available)('dlock tx against a log on the shared MariaDB (no XA)', () => {
  const table = uniqueName('dlock_cli_tx_');
  let pool: Pool;
  beforeAll(async () => {
    pool = createPool({ uri: SHARED_MYSQL_URL, connectionLimit: 2 });
    await ensureSchema(pool, { table });
  });
  afterAll(async () => {
    await pool?.query(`DROP TABLE IF EXISTS \`${table}\``);
    await pool?.end();
  });
  const run = async (args: string[]) => {
    const io = captureIo({ DLOCK_TX_URL: SHARED_MYSQL_URL });
    const code = await main(['tx', ...args, '--table', table], io);
    return { code, out: io.out(), err: io.err() };
  };

  it('prints a record in words and as JSON, and says when there is none', async () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    await mysqlTxLog(pool, { table }).create({
      gid: 'dlock.abc.0001',
      kind: 'xa',
      state: 'committing',
      branches: [
        { id: 'b1', resource: 'a', local: true },
        { id: 'b2', resource: 'b' },
      ],
      deadline: t,
      nextRetryAt: t,
      attempts: 2,
      lastError: 'XA COMMIT on b: connection refused',
      createdAt: t,
      updatedAt: t,
    });
    const plain = await run(['status', 'dlock.abc.0001']);
    expect(plain.code).toBe(0);
    expect(plain.out.split('\n')).toEqual([
      'dlock.abc.0001: committing (decided: commit; phase two is being driven)',
      '  kind xa, 2 branch(es):',
      '    b1 on a (local transaction, committed with the decision)',
      '    b2 on b',
      '  created 2026-01-02T03:04:05.000Z, updated 2026-01-02T03:04:05.000Z',
      '  recovery attempts: 2',
      '  last error: XA COMMIT on b: connection refused',
      '',
    ]);
    const json = await run(['status', 'dlock.abc.0001', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ found: true, state: 'committing', attempts: 2 });
    const none = await run(['status', 'dlock.abc.0002', '--json']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.out)).toEqual({ gid: 'dlock.abc.0002', found: false });
  });

  it('recover lists what it could not finish and exits 1', async () => {
    // The record names resources this invocation was not given: it stays pending.
    const report = await run(['recover']);
    expect(report.code).toBe(1);
    expect(report.out).toContain('1 still pending');
    expect(report.out).toContain('  pending dlock.abc.0001');
  });
});
