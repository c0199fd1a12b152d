import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { connect, LockArgumentError, LockBackendError } from '@dlock/lock-core';
import {
  freePort,
  makeTlsFiles,
  printedForms,
  rejectionOf,
  requireOpenssl,
  requireRedisBinaries,
  startRedisServer,
  type TestRedisServer,
  type TlsFiles,
  uniquePrefix,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const binaries = await requireRedisBinaries();
const openssl = await requireOpenssl();

const PASSWORD = 'alice-Pw-7u3-secret';
const WRONG = 'wrong-Pw-9k1-secret';

describe.skipIf(!binaries.available)('a Redis with an ACL user: no password in any error', () => {
  let server: TestRedisServer;
  beforeAll(async () => {
    // A least-privilege user: only the commands the adapter sends, only its own keys and channels.
    server = await startRedisServer({
      args: [
        ...['--user', 'default', 'off'],
        ...['--user', 'alice', 'on', `>${PASSWORD}`, '~locks:*', '&locks:*'],
        ...['+@read', '+@write', '-@dangerous', '+@scripting', '+@pubsub', '+time', '+ping'],
      ],
    });
  });
  afterAll(() => server?.dispose());

  it('a wrong password: LockBackendError naming WRONGPASS, never the password, also in diagnostics', async () => {
    const payloads: unknown[] = [];
    const onEnd = (message: unknown): void => void payloads.push(message);
    subscribe('dlock:acquire:end', onEnd);
    try {
      const client = await connect(`redis://alice:${WRONG}@127.0.0.1:${server.port}`);
      const error = await rejectionOf(client.acquire('locks:k', { waitTimeoutMs: 0 }));
      await client.close();
      expect(error).toBeInstanceOf(LockBackendError);
      expect(String((error as Error).message)).toMatch(/WRONGPASS|invalid username-password/);
      expect(printedForms(error)).not.toContain(WRONG);
    } finally {
      unsubscribe('dlock:acquire:end', onEnd);
    }
    expect(payloads.length).toBeGreaterThan(0);
    for (const payload of payloads) {
      expect(
        JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      ).not.toContain(WRONG);
      expect(inspect(payload, { depth: 8, showHidden: true })).not.toContain(WRONG);
    }
  });

  it('the least-privilege user takes and releases locks under its prefix', async () => {
    const client = await connect(`redis://alice:${PASSWORD}@127.0.0.1:${server.port}`, {
      backend: { prefix: `locks:${uniquePrefix('acl')}` },
    });
    try {
      const lock = await client.acquire('k');
      // The owner token is an argument of every script call: never in the handle's printout.
      const owner = (lock as unknown as { lease: { owner: string } }).lease.owner;
      expect(inspect(lock, { depth: 8 })).not.toContain(owner);
      expect(await lock.release()).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe.skipIf(!binaries.available || !openssl.available)(
  'rediss:// with the shared TLS options',
  () => {
    let files: TlsFiles;
    let good: TestRedisServer;
    let selfSigned: TestRedisServer;
    let goodPort: number;
    let selfPort: number;
    const tlsArgs = (port: number, cert: { cert: string; key: string }, ca: string) => [
      '--tls-port',
      String(port),
      '--tls-cert-file',
      cert.cert,
      '--tls-key-file',
      cert.key,
      '--tls-ca-cert-file',
      ca,
      '--tls-auth-clients',
      'optional',
    ];
    beforeAll(async () => {
      files = await makeTlsFiles();
      goodPort = await freePort();
      selfPort = await freePort();
      [good, selfSigned] = await Promise.all([
        startRedisServer({ args: tlsArgs(goodPort, files.server, files.ca) }),
        startRedisServer({ args: tlsArgs(selfPort, files.selfSigned, files.ca) }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([good?.dispose(), selfSigned?.dispose()]);
      await files?.remove();
    });

    const tryLock = async (url: string, backend: Record<string, unknown> = {}) => {
      const client = await connect(url, { backend: { prefix: uniquePrefix('tls'), ...backend } });
      try {
        const lock = await client.acquire('k', { waitTimeoutMs: 0 });
        return await lock.release();
      } finally {
        await client.close();
      }
    };

    it('our own CA, from a file named in the URL or as a value, is accepted; a client certificate too', async () => {
      expect(await tryLock(`rediss://127.0.0.1:${goodPort}?tlsCa=${files.ca}`)).toBe(true);
      const { readFileSync } = await import('node:fs');
      expect(
        await tryLock(`rediss://127.0.0.1:${goodPort}`, {
          tls: { ca: readFileSync(files.ca, 'utf8') },
        }),
      ).toBe(true);
      expect(
        await tryLock(
          `rediss://localhost:${goodPort}?tlsCa=${files.ca}&tlsCert=${files.client.cert}&tlsKey=${files.client.key}`,
        ),
      ).toBe(true);
    });

    it('a self-signed server certificate is refused, naming the cause', async () => {
      const error = await rejectionOf(tryLock(`rediss://127.0.0.1:${selfPort}?tlsCa=${files.ca}`));
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/self[- ]signed|unable to verify/i);
    });

    it('the system roots do not trust our CA: refused', async () => {
      const error = await rejectionOf(tryLock(`rediss://127.0.0.1:${goodPort}`));
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(
        /self[- ]signed certificate in certificate chain|unable to (verify|get)/i,
      );
    });

    it('a wrong host name is refused', async () => {
      const error = await rejectionOf(
        tryLock(`rediss://127.0.0.1:${goodPort}?tlsCa=${files.ca}&tlsServername=wrong.example`),
      );
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/does not match|altnames/i);
    });

    it('bad TLS options are LockArgumentError before any I/O', async () => {
      for (const [url, backend] of [
        [`redis://127.0.0.1:${goodPort}?tlsCa=${files.ca}`, {}],
        [`rediss://127.0.0.1:${goodPort}?tlsCa=/no/such/file`, {}],
        [`rediss://127.0.0.1:${goodPort}?tlsCert=${files.client.cert}`, {}],
        [`rediss://127.0.0.1:${goodPort}`, { tls: { ca: 42 } }],
        [`rediss://127.0.0.1:${goodPort}`, { tls: { rejectUnauthorized: false } }],
      ] as const) {
        await expect(connect(url, { backend })).rejects.toBeInstanceOf(LockArgumentError);
      }
    });
  },
);
