import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  connect,
  createLockClient,
  LockArgumentError,
  type LockBackend,
  LockBackendError,
  maskCredentials,
  memoryBackend,
  redactDriverError,
} from '../src/index.js';

const SECRET = 'hunter2-very-secret';

/** Every printable form of a value that a logger might produce. */
function printed(value: unknown): string {
  return [
    JSON.stringify(value),
    JSON.stringify((value as { cause?: unknown }).cause ?? null),
    inspect(value, { depth: 8, showHidden: true }),
    String(value),
    (value as Error).stack ?? '',
  ].join('\n');
}

class ReplyError extends Error {
  command = { name: 'auth', args: ['alice', SECRET] };
  override name = 'ReplyError';
}

describe('redactDriverError', () => {
  it('keeps class, message and diagnostic fields; drops command args, sql, values, metadata', () => {
    const driver = Object.assign(new ReplyError('WRONGPASS invalid username-password pair'), {
      code: 'WRONGPASS',
      errno: 1045,
      sql: `UPDATE t SET owner = x'${Buffer.from(SECRET).toString('hex')}'`,
      values: [SECRET],
      metadata: { token: SECRET },
      address: '127.0.0.1',
      port: 6390,
    });
    const safe = redactDriverError(driver) as ReplyError & Record<string, unknown>;
    expect(safe).toBeInstanceOf(ReplyError);
    expect(safe.message).toBe(driver.message);
    expect(safe).toMatchObject({
      code: 'WRONGPASS',
      errno: 1045,
      address: '127.0.0.1',
      port: 6390,
    });
    expect(safe.command).toEqual({ name: 'auth' });
    const text = printed(safe);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(Buffer.from(SECRET).toString('hex'));
  });

  it('redacts the whole cause chain and AggregateError members', () => {
    const inner = Object.assign(new Error('inner'), {
      command: { name: 'evalsha', args: [SECRET] },
    });
    const outer = new AggregateError([new Error('node 1', { cause: inner })], 'quorum', {
      cause: inner,
    });
    const safe = redactDriverError(outer) as AggregateError;
    expect(safe).toBeInstanceOf(AggregateError);
    expect(safe.errors).toHaveLength(1);
    expect(printed(safe)).not.toContain(SECRET);
    expect(((safe.errors[0] as Error).cause as Error).message).toBe('inner');
  });

  it('stops at a cause cycle', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(() => redactDriverError(a)).not.toThrow();
  });
});

describe('maskCredentials', () => {
  it.each([
    ['redis://alice:pw-1@h:99999/0', 'redis://alice:***@h:99999/0'],
    ['rediss://:pw-1@h', 'rediss://:***@h'],
    ['mysql://u:p@ss@h/db', 'mysql://u:***@h/db'],
    [
      'redlock:h1:6379,h2:6379?password=pw-1&prefix=a',
      'redlock:h1:6379,h2:6379?password=***&prefix=a',
    ],
    ['see "etcd://root:pw-1@127.0.0.1:2379" now', 'see "etcd://root:***@127.0.0.1:2379" now'],
  ])('%s', (input, expected) => {
    expect(maskCredentials(input)).toBe(expected);
  });
});

describe('errors and diagnostics never carry a driver secret', () => {
  it('LockBackendError: cause, message, JSON, inspect', () => {
    const error = new LockBackendError('redis', 'acquire', new ReplyError('WRONGPASS'));
    expect(printed(error)).not.toContain(SECRET);
    expect((error.cause as ReplyError).command).toEqual({ name: 'auth' });
  });

  it('the dlock:acquire:end payload of a failing backend', async () => {
    const failing: LockBackend = {
      ...memoryBackend(),
      tryAcquire: () => Promise.reject(new ReplyError('WRONGPASS')),
    };
    const client = createLockClient(failing);
    const seen: unknown[] = [];
    const onEnd = (message: unknown): void => void seen.push(message);
    subscribe('dlock:acquire:end', onEnd);
    try {
      await expect(client.acquire('k')).rejects.toBeInstanceOf(LockBackendError);
    } finally {
      unsubscribe('dlock:acquire:end', onEnd);
      await client.close();
    }
    expect(seen).toHaveLength(1);
    expect(printed(seen[0])).not.toContain(SECRET);
    expect(inspect(seen[0], { depth: 8 })).toContain('WRONGPASS');
  });

  it('an unparsable URL or a malformed % escape is a LockArgumentError without the password', async () => {
    for (const url of [
      'redis://alice:pw-1@127.0.0.1:99999',
      'redis://alice:pw-1%zz@127.0.0.1:6379',
    ]) {
      const error = await connect(url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockArgumentError);
      expect(printed(error)).not.toContain('pw-1');
    }
  });
});

describe('the owner token stays out of printable surfaces', () => {
  it('util.inspect and JSON of a lock, the client and client.backend.inspect()', async () => {
    const client = createLockClient(memoryBackend());
    const lock = await client.acquire('k');
    const owner = (lock as unknown as { lease: { owner: string } }).lease.owner;
    const secret = owner.slice(owner.lastIndexOf('#') + 1);
    expect(secret.length).toBeGreaterThan(16);
    expect(inspect(lock, { depth: 8, showHidden: true })).not.toContain(secret);
    expect(JSON.stringify(lock)).not.toContain(secret);
    expect(inspect(client, { depth: 8, showHidden: true })).not.toContain(secret);
    const backend = (client as unknown as { backend: LockBackend }).backend;
    const state = await backend.inspect('k');
    expect(state?.owner).toBe(owner.slice(0, owner.lastIndexOf('#')));
    expect((await client.inspect('k'))?.holder).toBe(state?.owner);
    await lock.release();
    await client.close();
  });
});
