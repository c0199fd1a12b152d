import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../src/cli-error.js';
import { describeHolder, holderJson, printable } from '../src/describe-holder.js';
import { EXIT } from '../src/exit-codes.js';
import { connectionUrl, envPassword, openClient } from '../src/open-client.js';

const dir = mkdtempSync(join(tmpdir(), 'dlock-cli-conn-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('connection settings (in process)', () => {
  it('puts the --tls-* flags on the URL as its tls parameters, after checking the files', () => {
    const ca = file('ca.pem', 'CA');
    const url = connectionUrl(
      { url: 'rediss://127.0.0.1:6380', 'tls-ca': ca, 'tls-servername': 'redis.test' },
      {},
    );
    const parsed = new URL(url);
    expect(parsed.searchParams.get('tlsCa')).toBe(ca);
    expect(parsed.searchParams.get('tlsServername')).toBe('redis.test');
    expect(connectionUrl({}, { DLOCK_URL: 'redis://h:1' })).toBe('redis://h:1');
    expect(connectionUrl({ url: 'not a url', 'tls-ca': ca }, {})).toBe('not a url');
  });

  it('an unreadable certificate file is an input error (exit 66), before any connection', () => {
    const call = () =>
      connectionUrl({ url: 'rediss://127.0.0.1:6380', 'tls-ca': join(dir, 'missing.pem') }, {});
    expect(call).toThrow(InputError);
    try {
      call();
    } catch (error) {
      expect((error as InputError).exitCode).toBe(EXIT.NO_INPUT);
    }
  });

  it('reads the password from DLOCK_PASSWORD, or the first line of DLOCK_PASSWORD_FILE', () => {
    expect(envPassword({})).toBeUndefined();
    expect(envPassword({ DLOCK_PASSWORD: 'pw' })).toBe('pw');
    const pwFile = file('pw', 'from-file\nsecond line\n');
    expect(envPassword({ DLOCK_PASSWORD: 'pw', DLOCK_PASSWORD_FILE: pwFile })).toBe('from-file');
    expect(() => envPassword({ DLOCK_PASSWORD_FILE: file('empty', '') })).toThrow(InputError);
    expect(() => envPassword({ DLOCK_PASSWORD_FILE: join(dir, 'nope') })).toThrow(InputError);
  });

  it('refuses a URL that does not parse and a SQLite path with a malformed % escape', async () => {
    await expect(openClient('::nope::', {})).rejects.toThrow(UsageError);
    await expect(openClient('sqlite:./a%zz.db', {})).rejects.toThrow(/malformed %/);
  });
});

describe('holder descriptions', () => {
  it('escapes control characters and backslashes in names', () => {
    expect(printable('a\nb\rc\td\x1b[31m\\\u2028')).toBe('a\\nb\\rc\\td\\x1b[31m\\\\\\u2028');
  });

  it('describes a free key, a held one and a re-entered one', () => {
    expect(describeHolder(null)).toBe('free');
    const info = {
      key: 'k',
      holder: 'host\n',
      count: 2,
      expiresAt: Date.now() + 5_000,
      fencingToken: 7n,
    };
    const text = describeHolder(info);
    expect(text).toContain('held by host\\n');
    expect(text).toContain('fencing token 7');
    expect(text).toContain('re-entered 2 times');
    expect(holderJson('k', null)).toEqual({ key: 'k', held: false });
    expect(holderJson('k', info)).toMatchObject({ key: 'k', held: true, count: 2 });
  });
});
