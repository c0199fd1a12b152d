import type { LockBackend } from '@dlock/lock-core';
import { lockKeys } from '@dlock/lock-redis/internals';
import { requireRedisBinaries, waitUntil } from '@dlock/test-utils';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PREFIX = 'fence:';

/** Grants and releases `key` once; returns the token. */
async function grant(backend: LockBackend, key: string): Promise<bigint> {
  const result = await backend.tryAcquire({ key, owner: 'o', ttlMs: 5_000 });
  if (!result.acquired) throw new Error(`${key} was not granted`);
  await backend.release({ key, owner: 'o' });
  return result.fencingToken;
}

/** Five fresh nodes for one test, and a backend on them; everything is stopped afterwards. */
async function withNodes(
  test: (nodes: RedisNodes, clients: Redis[], backend: LockBackend) => Promise<void>,
): Promise<void> {
  const nodes = await startRedisNodes(5);
  try {
    const clients = (await nodes.clients()) as unknown as Redis[];
    const backend = redlockBackend({
      clients: clients as never,
      prefix: PREFIX,
      nodeTimeoutMs: 100,
    });
    try {
      await test(nodes, clients, backend);
    } finally {
      await backend.close();
    }
  } finally {
    await nodes.dispose();
  }
}

const ready = (clients: readonly Redis[]) =>
  waitUntil(() => clients.every((c) => c.status === 'ready'), {
    timeoutMs: 10_000,
    message: 'node clients ready',
  });

describe.skipIf(!binaries.available)(
  'redlock fencing across node data loss (5 redis-servers)',
  () => {
    it('{A,B,C} grant while D, E are behind; A restarts empty, B, C go down: {A,D,E} still grant a larger token', async () => {
      await withNodes(async (nodes, clients, backend) => {
        const key = 'scenario';
        const fence = lockKeys(PREFIX, key).fence;
        const aligned = await grant(backend, key);
        // D and E miss the next grants (their connections are closed; their data stays).
        clients[3]!.disconnect();
        clients[4]!.disconnect();
        await grant(backend, key);
        const last = await grant(backend, key);
        expect(BigInt((await clients[0]!.get(fence))!)).toBe(last);
        // A restarts without persistence, B and C go down, D and E come back.
        await nodes.servers[0]!.restart();
        await Promise.all([nodes.servers[1]!.stop(), nodes.servers[2]!.stop()]);
        await Promise.all([clients[3]!.connect(), clients[4]!.connect()]);
        await ready([clients[0]!, clients[3]!, clients[4]!]);
        expect(await clients[0]!.exists(fence)).toBe(0);
        expect(BigInt((await clients[3]!.get(fence))!)).toBe(aligned);
        // Counters alone would give max(1, aligned + 1) here, below `last`.
        const next = await grant(backend, key);
        expect(next).toBeGreaterThan(last);
        // And the granting nodes were raised to it.
        for (const i of [0, 3, 4]) expect(BigInt((await clients[i]!.get(fence))!)).toBe(next);
      });
    });

    it('one node wiped (FLUSHALL), then a majority wiped, then every node restarted empty: tokens keep increasing', async () => {
      await withNodes(async (nodes, clients, backend) => {
        const key = 'wiped';
        const tokens = [await grant(backend, key)];
        await clients[0]!.flushall();
        tokens.push(await grant(backend, key));
        await Promise.all(clients.slice(0, 3).map((c) => c.flushall()));
        tokens.push(await grant(backend, key));
        await Promise.all(nodes.servers.map((s) => s.restart()));
        await ready(clients);
        expect(await clients[0]!.exists(lockKeys(PREFIX, key).fence)).toBe(0);
        tokens.push(await grant(backend, key));
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
      });
    });
  },
);
