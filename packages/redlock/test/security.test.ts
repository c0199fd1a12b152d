import { inspect } from 'node:util';
import { connect, LockArgumentError, LockBackendError } from '@dlock/lock-core';
import {
  freePorts,
  makeTlsFiles,
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
const PASSWORD = 'node-Pw-3vB-secret';

describe.skipIf(!binaries.available || !openssl.available)(
  'redlock over TLS with a password',
  () => {
    let files: TlsFiles;
    let servers: TestRedisServer[] = [];
    let nodes = '';
    beforeAll(async () => {
      files = await makeTlsFiles();
      const ports = await freePorts(3);
      servers = await Promise.all(
        ports.map((port) =>
          startRedisServer({
            args: [
              ...['--tls-port', String(port), '--requirepass', PASSWORD],
              ...['--tls-cert-file', files.server.cert, '--tls-key-file', files.server.key],
              ...['--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no'],
            ],
          }),
        ),
      );
      nodes = ports.map((port) => `127.0.0.1:${port}`).join(',');
    });
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.dispose()));
      await files?.remove();
    });

    const tryLock = async (query: string, backend: Record<string, unknown> = {}) => {
      const client = await connect(`redlock:${nodes}?prefix=${uniquePrefix('tls')}&${query}`, {
        backend: { subscribeTimeoutMs: 1_000, ...backend },
      });
      try {
        const lock = await client.acquire('k', { waitTimeoutMs: 0 });
        return await lock.release();
      } finally {
        await client.close();
      }
    };

    it('our own CA and the password are accepted', async () => {
      expect(await tryLock(`password=${PASSWORD}&tlsCa=${files.ca}`)).toBe(true);
    });

    it('an untrusted certificate is refused, naming the cause per node', async () => {
      const error = await rejectionOf(
        tryLock(`password=${PASSWORD}&tlsCa=${files.selfSigned.cert}`),
      );
      expect(error).toBeInstanceOf(LockBackendError);
      expect(inspect(error, { depth: 8 })).toMatch(/self[- ]signed|unable to (verify|get)/i);
    });

    it('a wrong host name is refused', async () => {
      const error = await rejectionOf(
        tryLock(`password=${PASSWORD}&tlsCa=${files.ca}&tlsServername=wrong.example`),
      );
      expect(error).toBeInstanceOf(LockBackendError);
      expect(inspect(error, { depth: 8 })).toMatch(/does not match|altnames/i);
    });

    it('a wrong ?password= never appears in the error', async () => {
      const wrong = 'wrong-Pw-6hN-secret';
      const error = await rejectionOf(tryLock(`password=${wrong}&tlsCa=${files.ca}`));
      expect(error).toBeInstanceOf(LockBackendError);
      const text = [
        JSON.stringify(error),
        JSON.stringify((error as Error).cause),
        inspect(error, { depth: 8, showHidden: true }),
      ].join('\n');
      expect(text).toMatch(/WRONGPASS|invalid/i);
      expect(text).not.toContain(wrong);
    });

    it('bad TLS options are LockArgumentError before any I/O', async () => {
      for (const query of ['tls=yes', `tls=false&tlsCa=${files.ca}`, 'tlsCa=/no/such/file']) {
        await expect(connect(`redlock:${nodes}?${query}`)).rejects.toBeInstanceOf(
          LockArgumentError,
        );
      }
    });
  },
);
