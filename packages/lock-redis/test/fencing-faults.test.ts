import type { LockBackend } from '@dlock/lock-core';
import {
  requireRedisBinaries,
  startRedisServer,
  type TestRedisServer,
  waitUntil,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';
import { lockKeys } from '../src/redis-backend.js';

const binaries = await requireRedisBinaries();

/** Grants and releases `key` once; returns the token. */
async function grant(backend: LockBackend, key: string): Promise<bigint> {
  const result = await backend.tryAcquire({ key, owner: 'o', ttlMs: 5_000 });
  if (!result.acquired) throw new Error(`${key} was not granted`);
  expect(await backend.release({ key, owner: 'o' })).toBe('released');
  return result.fencingToken;
}

describe.skipIf(!binaries.available)(
  'fencing tokens across Redis data loss (own redis-servers)',
  () => {
    const servers: TestRedisServer[] = [];
    const clients: Redis[] = [];
    const newClient = (port: number) => {
      const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      client.on('error', () => {}); // the restarts and the killed master make these expected
      clients.push(client);
      return client;
    };
    const start = async (args: string[] = []) => {
      const server = await startRedisServer({ args });
      servers.push(server);
      return server;
    };

    afterAll(async () => {
      for (const client of clients) client.disconnect();
      await Promise.all(servers.map((s) => s.dispose()));
    });

    it('a restart without persistence (the counter is gone) keeps the tokens increasing', async () => {
      const server = await start();
      const client = newClient(server.port);
      const backend = redisBackend({ client, prefix: 'f:' });
      const before = [await grant(backend, 'restart'), await grant(backend, 'restart')];
      expect(before[1]!).toBeGreaterThan(before[0]!);
      await server.restart();
      await waitUntil(async () => (await client.ping().catch(() => '')) === 'PONG', {
        message: 'reconnected to the restarted server',
      });
      expect(await client.exists(lockKeys('f:', 'restart').fence)).toBe(0);
      const after = await grant(backend, 'restart');
      expect(after).toBeGreaterThan(before[1]!);
      await backend.close();
    });

    it('a failover to a replica that missed the last grant keeps the tokens increasing', async () => {
      const master = await start(['--repl-diskless-sync-delay', '0']);
      const replica = await start(['--replicaof', '127.0.0.1', String(master.port)]);
      const onMaster = newClient(master.port);
      const onReplica = newClient(replica.port);
      await waitUntil(
        async () => /slave0:.*state=online/.test(await onMaster.info('replication')),
        {
          message: 'replica online',
        },
      );
      const backend = redisBackend({ client: onMaster, prefix: 'f:' });
      const replicated = await grant(backend, 'failover');
      expect(Number(await onMaster.wait(1, 5_000))).toBe(1);
      // Partition the replica: stopped, and its link cut, so that nothing written from now on is
      // even in its socket buffer. It misses the next grants; then the master crashes.
      process.kill(replica.process.pid, 'SIGSTOP');
      let last = 0n;
      try {
        await onMaster.client('KILL', 'TYPE', 'replica');
        last = await grant(backend, 'failover');
        last = await grant(backend, 'failover');
        await master.process.kill();
      } finally {
        process.kill(replica.process.pid, 'SIGCONT');
      }
      await onReplica.replicaof('NO', 'ONE');
      // Promoted: its counter is the one from before the partition.
      const fence = lockKeys('f:', 'failover').fence;
      expect(BigInt((await onReplica.get(fence)) ?? '0')).toBe(replicated);
      const promoted = redisBackend({ client: onReplica, prefix: 'f:' });
      const next = await grant(promoted, 'failover');
      expect(next).toBeGreaterThan(last);
      await promoted.close();
      await backend.close();
    });

    it('a counter reclaimed by its retention restarts above its tokens', async () => {
      const server = await start();
      const client = newClient(server.port);
      const backend = redisBackend({ client, prefix: 'f:', fencingRetentionMs: 1 });
      const first = await grant(backend, 'retention');
      // A 1 ms retention: the counter is reclaimed 1 ms after the lock's 5 s expiry would have been.
      await waitUntil(async () => (await client.exists(lockKeys('f:', 'retention').fence)) === 0, {
        message: 'counter expired',
        timeoutMs: 15_000,
      });
      expect(await grant(backend, 'retention')).toBeGreaterThan(first);
      await backend.close();
    });
  },
);
