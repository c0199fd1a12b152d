import { connect, LockArgumentError } from '@dlock/lock-core';
import {
  requireRedisBinaries,
  startRedisCluster,
  type TestRedisCluster,
  uniquePrefix,
} from '@dlock/test-utils';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBackend } from '../src/connect-backend.js';

const binaries = await requireRedisBinaries();

describe('redis+cluster: URLs refused before any I/O', () => {
  // Port 1 is never a Redis node: reaching the network would fail differently (LockBackendError).
  it.each([
    ['redis+cluster:', /lists its seed nodes/],
    ['redis+cluster:127.0.0.1:1,127.0.0.1:1', /listed twice/],
    ['redis+cluster:127.0.0.1:0', /bad port/],
    ['redis+cluster:127.0.0.1:99999', /bad port/],
    ['redis+cluster:127.0.0.1:x', /bad redis\+cluster node/],
    ['redis+cluster:127.0.0.1:1?prefx=app:', /prefx/],
    ['redis+cluster:127.0.0.1:1?db=1', /db/],
    ['redis+cluster:127.0.0.1:1?fencingRetentionMs=soon', /fencingRetentionMs/],
    ['redis+cluster:127.0.0.1:1?pubsub=sometimes', /pubsub/],
    ['redis+cluster:127.0.0.1:1?tlsServername=redis.internal', /rediss\+cluster:/],
    ['rediss+cluster:127.0.0.1:1?tlsCa=/nonexistent/ca.pem', /ca\.pem/],
    ['redis+cluster://127.0.0.1:1/', /bad redis\+cluster node|lists its seed nodes/],
  ])('%s', async (url, message) => {
    const error = await connect(url).catch((e: unknown) => e);
    expect(LockArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses an unknown backend option, naming it', async () => {
    const error = await connect('redis+cluster:127.0.0.1:1', { backend: { passwrd: 'x' } }).catch(
      (e: unknown) => e,
    );
    expect(LockArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/passwrd/);
  });

  it('the adapter refuses a scheme it does not serve', async () => {
    await expect(connectBackend(new URL('redlock:127.0.0.1:1'))).rejects.toThrow(LockArgumentError);
  });
});

const PASSWORD = 'cluster-secret';

describe.skipIf(!binaries.available)('connect(redis+cluster:…) on a real cluster', () => {
  let cluster: TestRedisCluster;
  let url: string;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    // Password-protect the nodes we started (the cluster bus does not use it), so that the URL's
    // password is known to reach every node the Cluster client opens, not only the seeds.
    for (const node of cluster.nodes) {
      const admin = new Redis(node);
      await admin.config('SET', 'requirepass', PASSWORD);
      await admin.quit().catch(() => admin.disconnect());
    }
    // Two of the three masters as seeds: the Cluster client finds the third itself.
    url = `redis+cluster:${cluster.nodes
      .slice(0, 2)
      .map((n) => `${n.host}:${n.port}`)
      .join(',')}`;
  });

  afterAll(async () => {
    await cluster?.dispose();
  });

  it('acquires, releases and wakes a waiter across two clients', async () => {
    const prefix = uniquePrefix('cluster-url');
    const query = `?prefix=${encodeURIComponent(prefix)}&pubsub=sharded&password=${PASSWORD}`;
    const a = await connect(url + query);
    const b = await connect(url + query);
    try {
      const held = await a.acquire('job');
      expect(await b.tryAcquire('job')).toBeNull();
      const waiting = b.acquire('job', { waitTimeoutMs: 30_000 });
      expect(await held.release()).toBe(true);
      const next = await waiting;
      expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
      expect(await next.release()).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('keeps the keys under the prefix, on the cluster', async () => {
    const prefix = uniquePrefix('cluster-url');
    const client = await connect(
      `${url}?prefix=${encodeURIComponent(prefix)}&password=${PASSWORD}`,
      {
        backend: { fencingRetentionMs: 60_000 },
      },
    );
    const admin = new Cluster(
      cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      { redisOptions: { password: PASSWORD } },
    );
    try {
      const lock = await client.acquire('report');
      const keys: string[] = [];
      await admin.ping();
      for (const node of admin.nodes('master')) {
        keys.push(...(await node.keys(`${prefix}*`)));
      }
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.every((k) => k.startsWith(prefix))).toBe(true);
      await lock.release();
    } finally {
      await client.close();
      await admin.quit();
    }
  });

  it.each(['?password=wrong', ''])('password %j is a backend error, not a hang', async (query) => {
    const client = await connect(url + query);
    try {
      await expect(client.tryAcquire('x')).rejects.toMatchObject({ name: 'LockBackendError' });
    } finally {
      await client.close();
    }
  });
});
