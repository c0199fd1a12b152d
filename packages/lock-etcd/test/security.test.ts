import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { connect, LockArgumentError, LockBackendError } from '@dlock/lock-core';
import {
  commandExists,
  freePorts,
  type ManagedProcess,
  makeTempDir,
  makeTlsFiles,
  rejectionOf,
  requireOpenssl,
  requireService,
  startProcess,
  type TlsFiles,
  uniquePrefix,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const openssl = await requireOpenssl();
const etcdBinary = await requireService('the etcd binary', async () => {
  if (!(await commandExists('etcd'))) throw new Error('etcd is not on PATH');
});

/** A one-member plain etcd on spare ports, with its data under `dir`. */
async function startPlainEtcd(dir: string): Promise<{ port: number; process: ManagedProcess }> {
  const [port, peer] = await freePorts(2);
  const peerUrl = `http://127.0.0.1:${peer}`;
  const process = await startProcess({
    name: 'etcd auth',
    command: 'etcd',
    args: [
      '--name=auth',
      `--data-dir=${join(dir, 'etcd-auth')}`,
      `--listen-client-urls=http://127.0.0.1:${port}`,
      `--advertise-client-urls=http://127.0.0.1:${port}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=auth=${peerUrl}`,
    ],
    readyWhen: /ready to serve client requests/,
    readyTimeoutMs: 30_000,
  });
  return { port: port!, process };
}

/** A one-member etcd serving clients over TLS with `cert` on a spare port. */
async function startTlsEtcd(
  files: TlsFiles,
  name: string,
  cert: { cert: string; key: string },
): Promise<{ port: number; process: ManagedProcess }> {
  const [port, peer] = await freePorts(2);
  const peerUrl = `http://127.0.0.1:${peer}`;
  const process = await startProcess({
    name: `etcd ${name}`,
    command: 'etcd',
    args: [
      `--name=${name}`,
      `--data-dir=${join(files.dir, `etcd-${name}`)}`,
      `--listen-client-urls=https://127.0.0.1:${port}`,
      `--advertise-client-urls=https://127.0.0.1:${port}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${name}=${peerUrl}`,
      `--cert-file=${cert.cert}`,
      `--key-file=${cert.key}`,
    ],
    readyWhen: /ready to serve client requests/,
    readyTimeoutMs: 30_000,
  });
  return { port: port!, process };
}

describe.skipIf(!openssl.available || !etcdBinary.available)(
  'etcds:// with the shared TLS options',
  () => {
    let files: TlsFiles;
    const servers: Record<
      'good' | 'wrongHost' | 'selfSigned',
      { port: number; process: ManagedProcess }
    > = {} as never;
    beforeAll(async () => {
      files = await makeTlsFiles();
      const [good, wrongHost, selfSigned] = await Promise.all([
        startTlsEtcd(files, 'good', files.server),
        startTlsEtcd(files, 'wrong-host', files.wrongHost),
        startTlsEtcd(files, 'self-signed', files.selfSigned),
      ]);
      Object.assign(servers, { good, wrongHost, selfSigned });
    }, 60_000);
    afterAll(async () => {
      await Promise.all(Object.values(servers).map((s) => s.process.stop()));
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

    it('our own CA is accepted, from a file in the URL or as a value', async () => {
      expect(await tryLock(`etcds://127.0.0.1:${servers.good.port}?tlsCa=${files.ca}`)).toBe(true);
      const { readFileSync } = await import('node:fs');
      expect(
        await tryLock(`etcds://localhost:${servers.good.port}`, {
          tls: { ca: readFileSync(files.ca) },
        }),
      ).toBe(true);
    });

    it('a certificate for another host name is refused, naming the cause', async () => {
      const error = await rejectionOf(
        tryLock(`etcds://127.0.0.1:${servers.wrongHost.port}?tlsCa=${files.ca}`),
      );
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/does not match|altnames/i);
      expect((error as Error).message).not.toMatch(/circuit breaker/);
    });

    it('a self-signed certificate is refused, naming the cause', async () => {
      const error = await rejectionOf(
        tryLock(`etcds://127.0.0.1:${servers.selfSigned.port}?tlsCa=${files.ca}`),
      );
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/self[- ]signed/i);
    });

    it('the system roots do not trust our CA: refused', async () => {
      const error = await rejectionOf(tryLock(`etcds://127.0.0.1:${servers.good.port}`));
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/self[- ]signed|unable to (verify|get)/i);
    });

    it('bad TLS options are LockArgumentError before any I/O', async () => {
      for (const [url, backend] of [
        [`etcd://127.0.0.1:${servers.good.port}?tlsCa=${files.ca}`, {}],
        [`etcds://127.0.0.1:${servers.good.port}?tlsCa=/no/such/file`, {}],
        [`etcds://127.0.0.1:${servers.good.port}`, { tls: { servername: '' } }],
      ] as const) {
        await expect(connect(url, { backend })).rejects.toBeInstanceOf(LockArgumentError);
      }
    });
  },
);

describe.skipIf(!etcdBinary.available)('etcd auth: no password in any error', () => {
  const PASSWORD = 'root-Pw-2mX-secret';
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let server: { port: number; process: ManagedProcess };
  beforeAll(async () => {
    dir = await makeTempDir('dlock-etcd-auth-');
    server = await startPlainEtcd(dir.path);
    const etcdctl = (...args: string[]) =>
      promisify(execFile)('etcdctl', [`--endpoints=http://127.0.0.1:${server.port}`, ...args]);
    await etcdctl('role', 'add', 'root');
    await etcdctl('user', 'add', `root:${PASSWORD}`);
    await etcdctl('user', 'grant-role', 'root', 'root');
    await etcdctl('auth', 'enable');
  }, 60_000);
  afterAll(async () => {
    await server?.process.stop();
    await dir?.remove();
  });

  it('the right password works; a wrong one is a LockBackendError that never shows it', async () => {
    const good = await connect(`etcd://root:${PASSWORD}@127.0.0.1:${server.port}`);
    try {
      expect(await (await good.acquire('k', { waitTimeoutMs: 0 })).release()).toBe(true);
    } finally {
      await good.close();
    }
    const wrong = 'wrong-Pw-5tY-secret';
    const client = await connect(`etcd://root:${wrong}@127.0.0.1:${server.port}`);
    try {
      const error = await rejectionOf(client.acquire('k', { waitTimeoutMs: 0 }));
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/authentication failed|invalid/i);
      const text = [
        JSON.stringify(error),
        JSON.stringify((error as Error).cause),
        inspect(error, { depth: 8, showHidden: true }),
      ].join('\n');
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(PASSWORD);
    } finally {
      await client.close();
    }
  });
});
