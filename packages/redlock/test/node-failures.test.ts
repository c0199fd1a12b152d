import {
  createLockClient,
  type LockBackend,
  LockBackendError,
  type LockClient,
} from '@dlock/lock-core';
import { RedisCommandTimeoutError } from '@dlock/lock-redis';
import { requireRedisBinaries, waitUntil } from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedlockClientLike, RedlockNodeError, redlockBackend } from '../src/index.js';
import { type RedisNodes, startRedisNodes } from './helpers/redis-nodes.js';

const binaries = await requireRedisBinaries();
const PREFIX = 'faults:';
const NODE_TIMEOUT_MS = 100;

/** Runs `tasks` read-yield-write sections under the lock; returns the tokens in entry order. */
async function contend(clients: LockClient[], key: string, tasks: number): Promise<bigint[]> {
  let inside = 0;
  let maxInside = 0;
  let counter = 0;
  const tokens: bigint[] = [];
  await Promise.all(
    Array.from({ length: tasks }, (_, i) =>
      clients[i % clients.length]!.using(
        key,
        async (_signal, lock) => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          tokens.push(lock.fencingToken);
          const seen = counter;
          await new Promise((resolve) => setImmediate(resolve));
          counter = seen + 1;
          inside--;
        },
        { waitTimeoutMs: 30_000 },
      ),
    ),
  );
  expect(maxInside).toBe(1);
  expect(counter).toBe(tasks);
  return tokens;
}

function expectIncreasing(tokens: readonly bigint[]): void {
  for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
}

describe.skipIf(!binaries.available)('redlock with failing nodes (5 redis-servers)', () => {
  let nodes: RedisNodes;
  const backends: LockBackend[] = [];
  const clientSets: RedlockClientLike[][] = [];
  const newBackend = async () => {
    const clients = await nodes.clients();
    clientSets.push(clients);
    const backend = redlockBackend({ clients, prefix: PREFIX, nodeTimeoutMs: NODE_TIMEOUT_MS });
    backends.push(backend);
    return backend;
  };

  beforeAll(async () => {
    nodes = await startRedisNodes(5);
  });
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await nodes?.dispose();
  });

  describe('node loss and recovery', () => {
    let a: LockBackend;
    let b: LockBackend;
    let lockClients: LockClient[];
    let lastToken = 0n;
    beforeAll(async () => {
      a = await newBackend();
      b = await newBackend();
      // Each client owns its backend (closing it closes the backend): two more, like two processes.
      lockClients = [
        createLockClient(await newBackend(), { ttlMs: 5_000 }),
        createLockClient(await newBackend(), { ttlMs: 5_000 }),
      ];
    });
    afterAll(async () => {
      await Promise.all(lockClients.map((c) => c.close()));
    });

    it('with 2 of 5 nodes killed, locks are still granted and exclusive', async () => {
      const before = await contend(lockClients, 'survive', 6);
      await nodes.servers[0]!.process.kill();
      await nodes.servers[1]!.process.kill();
      const grant = await a.tryAcquire({ key: 'survive', owner: 'x', ttlMs: 5_000 });
      expect(grant.acquired).toBe(true);
      expect((await b.tryAcquire({ key: 'survive', owner: 'y', ttlMs: 5_000 })).acquired).toBe(
        false,
      );
      expect(await a.release({ key: 'survive', owner: 'x' })).toBe('released');
      const after = await contend(lockClients, 'survive', 12);
      const tokens = [...before, ...after];
      expectIncreasing(tokens);
      lastToken = tokens.at(-1)!;
    });

    it('with 3 of 5 killed, acquire fails with the per-node causes and leaves no lock keys', async () => {
      await nodes.servers[2]!.process.kill();
      const error = await lockClients[0]!
        .acquire('survive', { waitTimeoutMs: 10_000 })
        .catch((e: unknown) => e);
      expect(LockBackendError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /quorum unreachable: 2 of 5 nodes answered, 3 needed/,
      );
      const cause = (error as Error).cause as AggregateError;
      expect(cause).toBeInstanceOf(AggregateError);
      expect(cause.errors).toHaveLength(3);
      for (const nodeError of cause.errors) expect(nodeError).toBeInstanceOf(RedlockNodeError);
      const ports = cause.errors.map((e: RedlockNodeError) => Number(e.node.split(':')[1]));
      expect(ports.sort()).toEqual(
        nodes.servers
          .slice(0, 3)
          .map((s) => s.port)
          .sort(),
      );
      // The two survivors granted a minority; the attempt gave it back before failing.
      const keys = await nodes.keys(`${PREFIX}*:lock:*`);
      expect(keys.flat()).toEqual([]);
      // Inspect says "cannot tell" rather than guessing; a watch cannot hear a majority.
      await expect(a.inspect('survive')).rejects.toSatisfy(LockBackendError.isInstance);
      await expect(a.extendMany!([{ key: 'survive', owner: 'x', ttlMs: 5_000 }])).rejects.toSatisfy(
        LockBackendError.isInstance,
      );
      const watching = await b.watch!('survive-watch', () => {}).catch((e: unknown) => e);
      expect(LockBackendError.isInstance(watching)).toBe(true);
      expect(String((watching as Error).cause)).toMatch(/could not subscribe on a majority/);
    });

    it('once the killed nodes are back, service resumes with increasing tokens', async () => {
      await Promise.all(nodes.servers.slice(0, 3).map((s) => s.restart()));
      await waitUntil(() => clientSets.flat().every((c) => c.status === 'ready'), {
        timeoutMs: 10_000,
        message: 'clients reconnected',
      });
      const tokens = await contend(lockClients, 'survive', 6);
      // Two nodes kept their counters, and every grant overlaps them or a node raised to them.
      expect(tokens[0]!).toBeGreaterThan(lastToken);
      expectIncreasing(tokens);
    });
  });

  describe('restartQuarantineMs (the delayed-restart rule)', () => {
    it('keeps restarted nodes out of the quorum until their quarantine is over', async () => {
      const clients = await nodes.clients();
      clientSets.push(clients);
      const guarded = redlockBackend({
        clients,
        prefix: PREFIX,
        nodeTimeoutMs: NODE_TIMEOUT_MS,
        // Long enough that a slow restart and reconnect on a loaded machine (uptime is read in
        // whole seconds) cannot end the quarantine before the first check below.
        restartQuarantineMs: 4_000,
      });
      backends.push(guarded);
      // Every node has been up for longer than the quarantine by now, or becomes so.
      await waitUntil(
        async () =>
          (await guarded.tryAcquire({ key: 'quarantine', owner: 'o', ttlMs: 5_000 })).acquired,
        { timeoutMs: 10_000, message: 'grants once the nodes are old enough' },
      );
      expect(await guarded.release({ key: 'quarantine', owner: 'o' })).toBe('released');

      // Three nodes restart empty: they answer, but must not vote yet.
      await Promise.all(nodes.servers.slice(2, 5).map((s) => s.restart()));
      await waitUntil(() => clients.every((c) => c.status === 'ready'), {
        timeoutMs: 10_000,
        message: 'clients reconnected',
      });
      const error = await guarded
        .tryAcquire({ key: 'quarantine', owner: 'o', ttlMs: 5_000 })
        .catch((e: unknown) => e);
      expect(LockBackendError.isInstance(error)).toBe(true);
      expect(String((error as Error).cause)).toMatch(/restartQuarantineMs/);
      // A backend without the option uses them at once (the rule protects only those who set it).
      const unguarded = await newBackend();
      const grant = await unguarded.tryAcquire({ key: 'quarantine', owner: 'u', ttlMs: 5_000 });
      expect(grant.acquired).toBe(true);
      expect(await unguarded.release({ key: 'quarantine', owner: 'u' })).toBe('released');
      // Once the restarted nodes are 4 s old, the guarded backend grants again.
      await waitUntil(
        async () =>
          (
            await guarded
              .tryAcquire({ key: 'quarantine', owner: 'o', ttlMs: 5_000 })
              .catch(() => ({ acquired: false }))
          ).acquired,
        { timeoutMs: 10_000, message: 'grants after the quarantine' },
      );
      expect(await guarded.release({ key: 'quarantine', owner: 'o' })).toBe('released');
    });
  });

  describe('a slow node', () => {
    /**
     * Stalls one node for `ms` with CLIENT PAUSE (like DEBUG SLEEP, but acknowledged first, so the
     * stall is known to be in effect when this resolves). `stalled()` turns false once it ends.
     */
    const stallNode = async (index: number, ms: number) => {
      const conn: Redis = new Redis({ host: '127.0.0.1', port: nodes.servers[index]!.port });
      await conn.client('PAUSE', ms, 'ALL');
      let done = false;
      // Queued behind the pause: answers when it ends.
      const ended = conn.ping().finally(() => {
        done = true;
        conn.disconnect();
      });
      return { ended, stalled: () => !done };
    };

    it('decides without a slow node once a majority answered (no timeout paid)', async () => {
      const backend = await newBackend();
      const { ended, stalled } = await stallNode(3, 800);
      const grant = await backend.tryAcquire({ key: 'slow', owner: 'o', ttlMs: 10_000 });
      // Decided while the node still sleeps: the other four were a majority, it was not awaited.
      expect(stalled()).toBe(true);
      expect(grant.acquired).toBe(true);
      expect(await backend.release({ key: 'slow', owner: 'o' })).toBe('released');
      expect(stalled()).toBe(true);
      await ended;
      // The slow node ran both calls in order once awake: it holds nothing afterwards.
      expect(await backend.inspect('slow')).toBeNull();
    });

    it('with 3 slow nodes, fails fast with timeouts as the per-node causes', async () => {
      const backend = await newBackend();
      const stalls = await Promise.all([0, 1, 2].map((i) => stallNode(i, 800)));
      const error = await backend
        .tryAcquire({ key: 'slow3', owner: 'o', ttlMs: 10_000 })
        .catch((e: unknown) => e);
      expect(stalls.every((s) => s.stalled())).toBe(true);
      expect(LockBackendError.isInstance(error)).toBe(true);
      const causes = ((error as Error).cause as AggregateError).errors as RedlockNodeError[];
      expect(causes).toHaveLength(3);
      for (const cause of causes) expect(cause.cause).toBeInstanceOf(RedisCommandTimeoutError);
      await Promise.all(stalls.map((s) => s.ended));
    });
  });
});
