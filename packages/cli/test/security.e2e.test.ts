import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLockClient } from '@dlock/lock-core';
import { connectBackend } from '@dlock/lock-sqlite';
import {
  freePort,
  makeTempDir,
  makeTlsFiles,
  requireOpenssl,
  requireRedisBinaries,
  startRedisServer,
  type TestRedisServer,
  type TlsFiles,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/exit-codes.js';
import { assertBuilt, dlock, jsonLines } from './dlock.js';

const PASSWORD = 'pw-Zq9-never-printed';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-security-');
  env = {
    ...process.env,
    DLOCK_URL: `sqlite:${join(dir.path, 'locks.db')}`,
    DLOCK_SQLITE_PATH: join(dir.path, 'default.db'),
  };
});
afterAll(() => dir.remove());

describe('exit codes never read as an answer', () => {
  it('a malformed % escape exits 64, not 1 ("free"), and does not print the password', async () => {
    for (const command of [
      ['status', 'k'],
      ['release', 'k', '--force'],
    ]) {
      const result = await dlock(
        [...command, '--url', `redis://alice:${PASSWORD}%zz@127.0.0.1:1`],
        { env },
      );
      expect(result.code, result.output).toBe(EXIT.USAGE);
      expect(result.output).toMatch(/malformed % escape/);
      expect(result.output).not.toContain(PASSWORD);
    }
  });

  it('a malformed % escape in a SQLite path exits 64', async () => {
    const result = await dlock(['status', 'k', '--url', 'sqlite:./bad%zz.db'], {
      env,
      cwd: dir.path,
    });
    expect(result.code, result.output).toBe(EXIT.USAGE);
  });

  it('an unparsable URL exits 64 without echoing its password', async () => {
    const result = await dlock(['status', 'k', '--url', `redis://alice:${PASSWORD}@h:99999`], {
      env,
    });
    expect(result.code, result.output).toBe(EXIT.USAGE);
    expect(result.output).not.toContain(PASSWORD);
  });

  it('an unreadable password file exits 66', async () => {
    const result = await dlock(['status', 'k', '--url', 'redis://127.0.0.1:1'], {
      env: { ...env, DLOCK_PASSWORD_FILE: join(dir.path, 'no-such-file') },
    });
    expect(result.code, result.output).toBe(EXIT.NO_INPUT);
  });

  it('the codes are distinct: answers 0/1, failures 64 and up', () => {
    const failures = [EXIT.USAGE, EXIT.NO_INPUT, EXIT.BACKEND, EXIT.INTERNAL];
    expect(new Set(failures).size).toBe(failures.length);
    for (const code of failures) expect(code).toBeGreaterThanOrEqual(64);
  });
});

describe('dlock status escapes holder names', () => {
  it('prints CR, LF and ESC as escapes, never raw', async () => {
    const url = new URL(`sqlite:${join(dir.path, 'locks.db')}`);
    const client = createLockClient(await connectBackend(url, {}), {
      clientId: 'evil\r\nforged line\u001b[2J',
    });
    const lock = await client.acquire('escaped');
    try {
      const result = await dlock(['status', 'escaped'], { env });
      expect(result.code, result.output).toBe(EXIT.OK);
      expect(result.stdout.join('\n')).toContain('held by evil\\r\\nforged line\\x1b[2J');
      expect(result.output.includes('\r') || result.output.includes('\u001b')).toBe(false);
      expect(result.stdout).toHaveLength(1);
    } finally {
      await lock.release();
      await client.close();
    }
  });
});

describe('dlock run keeps the backend credentials from COMMAND', () => {
  const dump = (file: string): string[] => [
    process.execPath,
    '-e',
    `require('node:fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify(process.env))`,
  ];

  it('without --pass-url COMMAND sees neither DLOCK_URL nor DLOCK_PASSWORD', async () => {
    const file = join(dir.path, 'env-plain.json');
    const result = await dlock(['run', 'env', '--', ...dump(file)], {
      env: { ...env, DLOCK_PASSWORD: PASSWORD },
    });
    expect(result.code, result.output).toBe(0);
    const seen = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(seen.DLOCK_URL).toBeUndefined();
    expect(seen.DLOCK_PASSWORD).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(PASSWORD);
    expect(seen.DLOCK_KEY).toBe('env');
  });

  it('with --pass-url it does', async () => {
    const file = join(dir.path, 'env-pass.json');
    const result = await dlock(['run', 'env', '--pass-url', '--', ...dump(file)], {
      env: { ...env, DLOCK_PASSWORD: PASSWORD },
    });
    expect(result.code, result.output).toBe(0);
    const seen = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(seen.DLOCK_URL).toBe(env.DLOCK_URL);
    expect(seen.DLOCK_PASSWORD).toBe(PASSWORD);
  });
});

describe('credentials from the environment, against a Redis with requirepass', () => {
  let redis: TestRedisServer | undefined;
  beforeAll(async () => {
    if ((await requireRedisBinaries()).available)
      redis = await startRedisServer({ args: ['--requirepass', PASSWORD] });
  });
  afterAll(() => redis?.dispose());

  it('DLOCK_PASSWORD and DLOCK_PASSWORD_FILE authenticate; a wrong one exits 69 and is never printed', async (ctx) => {
    if (!redis) return ctx.skip();
    const url = `redis://127.0.0.1:${redis.port}`;
    const options = { env: { ...env, DLOCK_URL: url }, cwd: dir.path };
    const good = await dlock(['status', 'k'], {
      ...options,
      env: { ...options.env, DLOCK_PASSWORD: PASSWORD },
    });
    expect(good.code, good.output).toBe(EXIT.NEGATIVE);
    const file = join(dir.path, 'redis-password');
    writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
    const fromFile = await dlock(['status', 'k'], {
      ...options,
      env: { ...options.env, DLOCK_PASSWORD_FILE: file },
    });
    expect(fromFile.code, fromFile.output).toBe(EXIT.NEGATIVE);
    const wrong = 'wrong-Xy7-password';
    for (const json of [[], ['--json']]) {
      const refused = await dlock(['status', 'k', ...json], {
        ...options,
        env: { ...options.env, DLOCK_PASSWORD: wrong },
      });
      expect(refused.code, refused.output).toBe(EXIT.BACKEND);
      expect(refused.output).toMatch(/WRONGPASS|invalid/i);
      expect(refused.output).not.toContain(wrong);
      if (json.length) expect(jsonLines(refused.output)[0]).toMatchObject({ error: 'backend' });
    }
    const inUrl = await dlock(
      ['status', 'k', '--url', `redis://:${wrong}@127.0.0.1:${redis.port}`],
      options,
    );
    expect(inUrl.code, inUrl.output).toBe(EXIT.BACKEND);
    expect(inUrl.output).not.toContain(wrong);
  });
});

describe('--tls-* flags, against a redis-server with TLS', () => {
  let redis: TestRedisServer | undefined;
  let files: TlsFiles | undefined;
  let port = 0;
  beforeAll(async () => {
    if (!(await requireRedisBinaries()).available || !(await requireOpenssl()).available) return;
    files = await makeTlsFiles();
    port = await freePort();
    redis = await startRedisServer({
      args: [
        ...['--tls-port', String(port), '--tls-auth-clients', 'no'],
        ...['--tls-cert-file', files.server.cert, '--tls-key-file', files.server.key],
        ...['--tls-ca-cert-file', files.ca],
      ],
    });
  });
  afterAll(async () => {
    await redis?.dispose();
    await files?.remove();
  });

  it('--tls-ca trusts our CA; without it, or with a wrong --tls-servername, exit 69; an unreadable file 66', async (ctx) => {
    if (!redis || !files) return ctx.skip();
    const url = `rediss://127.0.0.1:${port}`;
    const options = { env, cwd: dir.path };
    const trusted = await dlock(['status', 'k', '--url', url, '--tls-ca', files.ca], options);
    expect(trusted.code, trusted.output).toBe(EXIT.NEGATIVE);
    const untrusted = await dlock(['status', 'k', '--url', url], options);
    expect(untrusted.code, untrusted.output).toBe(EXIT.BACKEND);
    expect(untrusted.output).toMatch(/self[- ]signed|unable to (verify|get)/i);
    const wrongName = await dlock(
      ['status', 'k', '--url', url, '--tls-ca', files.ca, '--tls-servername', 'wrong.example'],
      options,
    );
    expect(wrongName.code, wrongName.output).toBe(EXIT.BACKEND);
    expect(wrongName.output).toMatch(/does not match|altnames/i);
    const missing = await dlock(
      ['status', 'k', '--url', url, '--tls-ca', '/no/such/ca.pem'],
      options,
    );
    expect(missing.code, missing.output).toBe(EXIT.NO_INPUT);
  });
});
