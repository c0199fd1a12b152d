import { describe, expect, it } from 'vitest';
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
