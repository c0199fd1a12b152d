import { LockArgumentError } from '@dlock/lock-core';
import { runBackendSpiSuite } from '@dlock/lock-core/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBackend, etcdBackend } from '../src/index.js';
import { ETCD_URL, etcd, runPrefix } from './helpers/etcd.js';

describe.skipIf(!etcd.available)('etcd single node: the backend SPI suite', () => {
  const client = new Etcd3({ hosts: ETCD_URL });
  const prefix = runPrefix('spi');
  afterAll(() => client.close());

  runBackendSpiSuite({
    name: 'etcd',
    createBackend: () => etcdBackend({ client, prefix }),
    runner: { describe, it, beforeAll, afterAll },
    // Whole-second leases: the shortest TTL etcd expires is about a second and a half.
    shortTtlMs: 2_000,
  });
});

describe('etcd unknown options', () => {
  const client = { kv: { txn() {} }, lease() {}, watch() {}, leaseClient: {} } as never;

  it('etcdBackend names the unknown option and the known ones', () => {
    expect(() => etcdBackend({ client, prefx: 'a/' } as never)).toThrow(
      'Unknown option "prefx" for etcdBackend; known options: client, prefix, sessionTtlMs, requestTimeoutMs',
    );
    expect(() => etcdBackend({ client, requestTimeoutMs: 2 ** 31 })).toThrow(LockArgumentError);
  });

  it('connect refuses unknown query parameters and options before any I/O', async () => {
    await expect(connectBackend(new URL('etcd://127.0.0.1:1?prefx=a/'))).rejects.toThrow(
      /unknown URL's query parameter "prefx"; known: prefix, sessionTtlMs, requestTimeoutMs, endpoints, tlsCa/,
    );
    await expect(connectBackend(new URL('etcd://127.0.0.1:1'), { prefx: 'a/' })).rejects.toThrow(
      /unknown option "prefx"; known: prefix, sessionTtlMs, requestTimeoutMs, tls$/,
    );
  });
});
