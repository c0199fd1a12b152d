import { readFileSync } from 'node:fs';
import { LockArgumentError, LockBackendError, LockClosedError } from '@dlock/lock-core';
import { runConformance } from '@dlock/lock-core/testing';
import { requireSharedRedis, SHARED_REDIS, uniquePrefix, waitUntil } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBackend, redisBackend } from '../src/index.js';
import { lockKeys } from '../src/redis-backend.js';
import { describeBackendSpi } from './helpers/spi-suite.js';

const redis = await requireSharedRedis();

describe.skipIf(!redis.available)('redis standalone (127.0.0.1:6379, own key prefix)', () => {
  const prefix = uniquePrefix('standalone');
  const clients: Redis[] = [];
  const newClient = () => {
    const client = new Redis({ ...SHARED_REDIS, lazyConnect: false });
    clients.push(client);
    return client;
  };

  afterAll(async () => {
    // Remove only our own keys (the fencing counters outlive the locks by design).
    const cleaner = newClient();
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await cleaner.unlink(...keys);
    } while (cursor !== '0');
    await Promise.all(clients.map((c) => c.quit()));
  });

  runConformance({
    name: 'redis standalone',
    createBackend: () => redisBackend({ client: newClient(), prefix }),
    runner: { describe, it, beforeAll, afterAll },
    // The kit's default 250 ms TTL leaves the watchdog about 170 ms of slack per renewal: a CI run
    // (coverage, three test files and the servers on two cores) stalls longer than that.
    traits: { shortTtlMs: 750 },
    faults: {
      loseFencingState: async (key) => {
        await newClient().del(lockKeys(prefix, key).fence);
      },
    },
  });

  describeBackendSpi('standalone', () => ({
    createBackend: () => redisBackend({ client: newClient(), prefix }),
  }));

  describe('options and ownership', () => {
    it('rejects bad options before any I/O', () => {
      const client = newClient();
      expect(() => redisBackend({ client, prefix: 'a{b' })).toThrow(LockArgumentError);
      expect(() => redisBackend({ client, prefix: 'a}' })).toThrow(LockArgumentError);
      expect(() => redisBackend({ client, commandTimeoutMs: 0 })).toThrow(LockArgumentError);
      expect(() => redisBackend({ client, waitForReplicas: -1 })).toThrow(LockArgumentError);
      expect(() => redisBackend({ client, fencingRetentionMs: 1.5 })).toThrow(LockArgumentError);
      expect(() => redisBackend({ client: {} as never })).toThrow(LockArgumentError);
    });

    it('refuses unknown options and URL query parameters, naming them and the known ones', async () => {
      const client = newClient();
      expect(() => redisBackend({ client, prefx: 'app:' } as never)).toThrow(
        /Unknown option "prefx" for redisBackend; known options: client, prefix, commandTimeoutMs/,
      );
      await expect(connectBackend(new URL('redis://127.0.0.1:6379?prefx=app:'))).rejects.toThrow(
        /unknown URL's query parameter "prefx"; known: prefix, pubsub, commandTimeoutMs.*tlsCa.*family/,
      );
      await expect(
        connectBackend(new URL('redis://127.0.0.1:6379'), { prefx: 'app:' }),
      ).rejects.toThrow(/unknown option "prefx"; known: prefix, pubsub, .*tls$/);
      // The listed ones pass, and the backend is usable.
      const backend = await connectBackend(
        new URL(`redis://127.0.0.1:6379?prefix=${prefix}&db=0`),
        {
          commandTimeoutMs: 2_000,
        },
      );
      expect(await backend.inspect('nobody')).toBeNull();
      await backend.close();
    });

    it('close() leaves the user client open and closes only its own subscriber', async () => {
      const client = newClient();
      const backend = redisBackend({ client, prefix });
      const handle = await backend.watch!('close-check', () => {});
      await handle.close();
      await backend.close();
      await backend.close(); // idempotent
      expect(await client.ping()).toBe('PONG');
    });

    it('works under an ioredis keyPrefix: release events still arrive', async () => {
      const prefixed = new Redis({ ...SHARED_REDIS, keyPrefix: `${prefix}kp:` });
      clients.push(prefixed);
      const holder = redisBackend({ client: prefixed, prefix: 'x:' });
      const watcher = redisBackend({ client: prefixed, prefix: 'x:' });
      await holder.tryAcquire({ key: 'prefixed', owner: 'o', ttlMs: 5_000 });
      let woken = 0;
      await watcher.watch!('prefixed', () => woken++);
      // A refused attempt flags the key: only then does the release publish.
      const refused = await watcher.tryAcquire({ key: 'prefixed', owner: 'w', ttlMs: 5_000 });
      expect(refused.acquired).toBe(false);
      expect(await holder.release({ key: 'prefixed', owner: 'o' })).toBe('released');
      await waitUntil(() => woken > 0, { timeoutMs: 2_000, message: 'release event' });
      await holder.close();
      await watcher.close();
    });

    it('keeps fencing counters for a day by default, forever with Infinity, or for fencingRetentionMs', async () => {
      const client = newClient();
      const byDefault = redisBackend({ client, prefix });
      const keep = redisBackend({ client, prefix, fencingRetentionMs: Number.POSITIVE_INFINITY });
      const expiring = redisBackend({ client, prefix, fencingRetentionMs: 60_000 });
      await byDefault.tryAcquire({ key: 'retention-default', owner: 'o', ttlMs: 5_000 });
      await byDefault.release({ key: 'retention-default', owner: 'o' });
      await keep.tryAcquire({ key: 'retention-keep', owner: 'o', ttlMs: 5_000 });
      await keep.release({ key: 'retention-keep', owner: 'o' });
      await expiring.tryAcquire({ key: 'retention-expire', owner: 'o', ttlMs: 5_000 });
      const fenceTtl = async (key: string) => {
        const [name] = await client.keys(`${prefix}*:fence:${key}`);
        return client.pttl(name!);
      };
      const day = 86_400_000;
      // Released, the counter keeps the expiry its grant set: the lock's 5 s plus the retention.
      expect(await fenceTtl('retention-default')).toBeGreaterThan(day);
      expect(await fenceTtl('retention-default')).toBeLessThanOrEqual(day + 5_000);
      expect(await fenceTtl('retention-keep')).toBe(-1);
      expect(await fenceTtl('retention-expire')).toBeGreaterThan(60_000);
      // The release leaves the counter's expiry where the grant put it: the lock's plus 60 s.
      await expiring.release({ key: 'retention-expire', owner: 'o' });
      const after = await fenceTtl('retention-expire');
      expect(after).toBeGreaterThan(60_000);
      expect(after).toBeLessThanOrEqual(65_000);
    });

    it('floors fresh tokens at the server time in microseconds, so a lost counter restarts above them', async () => {
      const client = newClient();
      const backend = redisBackend({ client, prefix });
      const [sec = 0, usec = 0] = await client.time();
      const serverUs = BigInt(sec) * 1_000_000n + BigInt(usec);
      const first = await backend.tryAcquire({ key: 'floor', owner: 'o', ttlMs: 5_000 });
      if (!first.acquired) throw new Error('not granted');
      expect(first.fencingToken).toBeGreaterThanOrEqual(serverUs);
      expect(first.fencingToken).toBeLessThan(serverUs + 60_000_000n);
      await backend.release({ key: 'floor', owner: 'o' });
      const [name] = await client.keys(`${prefix}*:fence:floor`);
      expect(await client.get(name!)).toBe(String(first.fencingToken));
      // A counter far ahead of the clock (a clock that stepped back) still grows by one.
      const ahead = serverUs + 3_600_000_000n;
      await client.set(name!, String(ahead));
      const second = await backend.tryAcquire({ key: 'floor', owner: 'o', ttlMs: 5_000 });
      expect(second.acquired && second.fencingToken).toBe(ahead + 1n);
      const reentered = await backend.tryAcquire({ key: 'floor', owner: 'o', ttlMs: 5_000 });
      expect(reentered.acquired && reentered.fencingToken).toBe(ahead + 1n);
      await backend.release({ key: 'floor', owner: 'o' });
      await backend.release({ key: 'floor', owner: 'o' });
      // Counter lost: the next token comes from the clock, above the first one.
      await client.del(name!);
      const third = await backend.tryAcquire({ key: 'floor', owner: 'o', ttlMs: 5_000 });
      expect(third.acquired && third.fencingToken > first.fencingToken).toBe(true);
      await backend.release({ key: 'floor', owner: 'o' });
      await backend.close();
    });

    it("the README's resource-side script refuses an equal or older token and accepts a newer one", async () => {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const script = /const FENCED_WRITE = `([^`]+)`/.exec(readme)?.[1];
      expect(script).toBeDefined();
      const client = newClient();
      const resource = `${prefix}resource`;
      const write = (token: bigint, value: string) =>
        client.eval(script!, 1, resource, String(token), value);
      const backend = redisBackend({ client, prefix });
      const stale = await backend.tryAcquire({ key: 'resource', owner: 'a', ttlMs: 5_000 });
      await backend.forceRelease!('resource');
      const fresh = await backend.tryAcquire({ key: 'resource', owner: 'b', ttlMs: 5_000 });
      if (!stale.acquired || !fresh.acquired) throw new Error('not granted');
      expect(await write(fresh.fencingToken, 'by b')).toBe(1);
      expect(await write(fresh.fencingToken, 'b again')).toBe(0);
      expect(await write(stale.fencingToken, 'by a')).toBe(0);
      // Shorter decimal strings are smaller numbers, not "larger" strings.
      expect(await write(9n, 'tiny')).toBe(0);
      expect(await client.hget(resource, 'value')).toBe('by b');
      expect(await write(fresh.fencingToken * 10n, 'later')).toBe(1);
      await backend.release({ key: 'resource', owner: 'b' });
      await backend.close();
    });

    it('waitForReplicas: too few acknowledgements fail the acquire and undo the grant', async () => {
      const client = newClient();
      // The shared server has no replicas, so WAIT 1 can only time out.
      const backend = redisBackend({
        client,
        prefix,
        waitForReplicas: 1,
        waitForReplicasTimeoutMs: 20,
      });
      const error = await backend
        .tryAcquire({ key: 'wait-replicas', owner: 'o', ttlMs: 5_000 })
        .catch((e) => e);
      expect(LockBackendError.isInstance(error)).toBe(true);
      expect(String((error as Error).cause)).toMatch(/0 of 1 replicas/);
      expect(await backend.inspect('wait-replicas')).toBeNull();
    });
  });

  describe('connectBackend (connect("redis://…"))', () => {
    it('creates its own client from the URL, reads options, and closes it', async () => {
      const url = new URL(
        `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}/0?prefix=${encodeURIComponent(prefix)}`,
      );
      const backend = await connectBackend(url, { commandTimeoutMs: 2_000 });
      const grant = await backend.tryAcquire({ key: 'via-url', owner: 'o', ttlMs: 5_000 });
      expect(grant.acquired).toBe(true);
      const peer = redisBackend({ client: newClient(), prefix });
      expect(await peer.inspect('via-url')).toMatchObject({ owner: 'o' });
      expect(await backend.release({ key: 'via-url', owner: 'o' })).toBe('released');
      await backend.close();
      // A closed backend refuses, whether or not its client is gone.
      await expect(backend.inspect('via-url')).rejects.toSatisfy(LockClosedError.isInstance);
    });

    it('rejects other schemes and bad numeric options', async () => {
      await expect(connectBackend(new URL('mysql://x'), {})).rejects.toBeInstanceOf(
        LockArgumentError,
      );
      await expect(
        connectBackend(new URL('redis://127.0.0.1:6379?commandTimeoutMs=soon'), {}),
      ).rejects.toBeInstanceOf(LockArgumentError);
    });
  });
});
