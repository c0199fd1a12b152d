import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockArgumentError } from '../src/index.js';
import { tlsSettings, withoutTlsParams } from '../src/spi.js';

let dir: string;
let caFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dlock-tls-settings-'));
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, 'PEM-CA');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tlsSettings', () => {
  it('is undefined when nothing is given', () => {
    expect(tlsSettings(new URL('rediss://h'), {})).toBeUndefined();
  });

  it('reads files named in the URL, which win over backend.tls values', () => {
    const url = new URL(`rediss://h?tlsCa=${caFile}&tlsServername=db.internal`);
    const settings = tlsSettings(url, { tls: { ca: 'from-options', servername: 'other' } });
    expect(String(settings?.ca)).toBe('PEM-CA');
    expect(settings?.servername).toBe('db.internal');
  });

  it('takes values from backend.tls', () => {
    expect(tlsSettings(new URL('etcds://h'), { tls: { ca: ['a', Buffer.from('b')] } })).toEqual({
      ca: ['a', Buffer.from('b')],
    });
  });

  it.each([
    ['an unreadable file', 'rediss://h?tlsCa=/no/such/file', {}],
    ['a cert without key', `rediss://h?tlsCert=${'x'}`, { tls: { cert: 'c' } }],
    ['a key without cert', 'rediss://h', { tls: { key: 'k' } }],
    ['a non-PEM ca', 'rediss://h', { tls: { ca: 42 } }],
    [
      'an unknown option (no switch to skip verification)',
      'rediss://h',
      { tls: { rejectUnauthorized: false } },
    ],
    ['an empty servername', 'rediss://h?tlsServername=', {}],
    ['tls not an object', 'rediss://h', { tls: true }],
  ])('refuses %s with LockArgumentError', (_what, url, options) => {
    expect(() => tlsSettings(new URL(url), options)).toThrow(LockArgumentError);
  });

  it('withoutTlsParams keeps every other parameter', () => {
    const url = new URL(
      `rediss://h:1/0?prefix=a&tlsCa=${caFile}&tlsKey=k&tlsCert=c&tlsServername=s`,
    );
    expect(withoutTlsParams(url).href).toBe('rediss://h:1/0?prefix=a');
  });
});
