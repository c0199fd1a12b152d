import { createLockClient } from '@dlock/lock-core';
import {
  requireRedisBinaries,
  startRedisCluster,
  type TestRedisCluster,
  waitUntil,
} from '@dlock/test-utils';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';
import { keySlot } from '../src/key-slot.js';
import { lockKeys } from '../src/redis-backend.js';

const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('redis cluster: the subscriber’s master dies', () => {
  let cluster: TestRedisCluster;
  const clients: Cluster[] = [];
  const newClient = () => {
    const client = new Cluster(cluster.nodes.map((n) => ({ ...n })));
    client.on('error', () => {}); // a node is stopped on purpose
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    // Without replicas, only a partially covered cluster keeps serving once a master is gone.
    cluster = await startRedisCluster({ args: ['--cluster-require-full-coverage', 'no'] });
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.dispose();
  });

  it('classic pub/sub moves to a live master and its waiters still wake on release', async () => {
    const ttlMs = 10_000; // long: only a working subscription explains a fast hand-over
    const holder = createLockClient(redisBackend({ client: newClient(), pubsub: 'classic' }), {
      ttlMs,
    });
    const waiterClient = newClient();
    const waiter = createLockClient(redisBackend({ client: waiterClient, pubsub: 'classic' }), {
      ttlMs,
    });
    try {
      // Warm the waiter's cluster client so that it knows the masters.
      await waiterClient.ping();
      // No offline queue: a command to the stopped node must fail, not wait for it forever.
      const admins = cluster.nodes.map((n) => {
        const admin = new Redis({ ...n, enableOfflineQueue: false, retryStrategy: () => null });
        admin.on('error', () => {});
        return admin;
      });
      const subscriberPort = async () => {
        for (const [i, admin] of admins.entries()) {
          const list = (await admin.client('LIST').catch(() => '')) as string;
          if (list.includes('name=dlock-subscriber')) return cluster.ports[i];
        }
        return undefined;
      };
      // A key whose slot lives on a master that will survive.
      const slotOwner = async (key: string) => {
        const slot = keySlot(lockKeys('dlock:', key).lock);
        const ranges = await admins[0]!.cluster('SLOTS');
        return ranges.find(([from, to]) => slot >= from && slot <= to)![2]![1];
      };

      const first = await holder.acquire('warm-up');
      const warmWait = waiter.acquire('warm-up', { waitTimeoutMs: 5_000 });
      const doomed = await waitUntil(subscriberPort, { message: 'subscriber connected' });
      await first.release();
      await (await warmWait).release();

      let key = 'survivor:0';
      for (let i = 1; (await slotOwner(key)) === doomed; i++) key = `survivor:${i}`;
      const held = await holder.acquire(key);
      const waiting = waiter.acquire(key, { waitTimeoutMs: 8_000, strategy: 'watch' });

      await cluster.stopNode(doomed!);
      const moved = await waitUntil(
        async () => {
          const port = await subscriberPort();
          return port !== undefined && port !== doomed ? port : undefined;
        },
        { timeoutMs: 8_000, message: 'subscriber on a live master' },
      );
      expect(moved).not.toBe(doomed);
      await held.release();
      const started = performance.now();
      const lock = await waiting;
      expect(performance.now() - started).toBeLessThan(3_000);
      await lock.release();
      for (const admin of admins) admin.disconnect();
    } finally {
      await holder.close().catch(() => {});
      await waiter.close().catch(() => {});
    }
  });
});

describe.skipIf(!binaries.available)(
  'redis cluster: failover of the master a sharded waiter listens on',
  () => {
    let cluster: TestRedisCluster;
    const clients: Cluster[] = [];
    const newClient = () => {
      const client = new Cluster(cluster.nodes.map((n) => ({ ...n })));
      client.on('error', () => {}); // a master is stopped on purpose
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      cluster = await startRedisCluster({
        masters: 3,
        replicas: 1,
        // Fast failure detection, and replicas that sync at once instead of after 5 s.
        args: ['--cluster-node-timeout', '1000', '--repl-diskless-sync-delay', '0'],
      });
    });
    afterAll(async () => {
      for (const client of clients) client.disconnect();
      await cluster?.dispose();
    });

    it('the waiter follows the channel to the promoted replica and still wakes on release', async () => {
      const ttlMs = 20_000; // long: only a working subscription explains a fast hand-over
      // WAIT for the replica on every grant, so the lock survives the failover below.
      const holderClient = newClient();
      const holder = createLockClient(
        redisBackend({
          client: holderClient,
          pubsub: 'sharded',
          waitForReplicas: 1,
          waitForReplicasTimeoutMs: 2_000,
        }),
        { ttlMs },
      );
      const waiter = createLockClient(redisBackend({ client: newClient(), pubsub: 'sharded' }), {
        ttlMs,
      });
      const admins = cluster.nodes.map((n) => {
        const admin = new Redis({ ...n, enableOfflineQueue: false, retryStrategy: () => null });
        admin.on('error', () => {});
        return admin;
      });
      try {
        const key = 'failover';
        const held = await holder.acquire(key);
        const waiting = waiter.acquire(key, { waitTimeoutMs: 15_000, strategy: 'watch' });
        waiting.catch(() => {}); // observed below; avoid an unhandled rejection if a step fails first
        const channel = lockKeys('dlock:', key).channel;
        const listening = async () => {
          for (const [i, admin] of admins.entries()) {
            const channels = (await admin.pubsub('SHARDCHANNELS').catch(() => [])) as string[];
            if (channels.includes(channel)) return cluster.ports[i];
          }
          return undefined;
        };
        const doomed = await waitUntil(listening, { message: 'shard channel subscribed' });

        await cluster.stopNode(doomed!);
        const promoted = await waitUntil(
          async () => {
            const port = await listening();
            return port !== undefined && port !== doomed ? port : undefined;
          },
          {
            timeoutMs: 15_000,
            intervalMs: 100,
            message: 'channel subscribed on the promoted replica',
          },
        );
        expect(promoted).not.toBe(doomed);
        await held.release();
        const released = performance.now();
        const lock = await waiting;
        expect(performance.now() - released).toBeLessThan(5_000);
        expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
        await lock.release();
      } finally {
        for (const admin of admins) admin.disconnect();
        await holder.close().catch(() => {});
        await waiter.close().catch(() => {});
      }
    }, 40_000);
  },
);
