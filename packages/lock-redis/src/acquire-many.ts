import type { AcquireRequest, AcquireResult, ReleaseResult } from '@dlock/lock-core/spi';
import type { RedisClientLike } from './client-types.js';
import type { CommandRunner } from './command-runner.js';
import { keySlot } from './key-slot.js';
import type { LockKeys } from './redis-backend.js';
import { awaitReplicas, type ReplicaWaitContext } from './replica-wait.js';
import {
  ACQUIRE_MANY_COMMAND,
  ACQUIRE_MANY_LUA,
  decodeAcquireManyReply,
} from './scripts/acquire-many.js';

/**
 * The most keys one script call carries: 64 keys are 192 Redis names, a script that runs in
 * well under a millisecond; the core splits larger sets into consecutive calls.
 */
export const MAX_MANY_KEYS = 64;

/** What the several-keys attempt borrows from the backend that owns it. */
export interface AcquireManyContext {
  readonly client: RedisClientLike;
  readonly prefix: string;
  /** The names of a lock (`lockKeys`, passed in: redis-backend.ts imports this module). */
  readonly lockKeys: (prefix: string, key: string) => LockKeys;
  readonly runner: CommandRunner;
  readonly retention: number;
  readonly open: () => void;
  readonly replicas: ReplicaWaitContext;
  /** The backend's owner-checked release of one hold (undoes an under-replicated grant). */
  readonly release: (key: string, owner: string, operation: string) => Promise<ReleaseResult>;
}

type ManyCall = (...args: Array<string | number>) => Promise<unknown>;
const defined = new WeakSet<object>();

/**
 * `tryAcquireMany` and `manyGroup` for the mutex: one script per Cluster slot (see
 * scripts/acquire-many.ts), so a set is all-or-nothing on one server step.
 *
 * On a Cluster a script may only touch one slot, so `manyGroup` is the key's slot (every name
 * of a lock carries the same hash tag, see `lockKeys`), zero-padded to five digits so that the
 * groups' string order is their numeric order; the core takes the slots one after the other in
 * that order. A standalone server (or Sentinel) is one group: any set is one script.
 */
export function createAcquireMany(context: AcquireManyContext): {
  tryAcquireMany(requests: readonly AcquireRequest[]): Promise<AcquireResult[]>;
  manyGroup(key: string): string;
} {
  const { client, prefix, lockKeys, runner, retention, open } = context;
  if (!defined.has(client)) {
    // No fixed key count: the caller passes it first (3 names per request).
    client.defineCommand(ACQUIRE_MANY_COMMAND, { lua: ACQUIRE_MANY_LUA });
    defined.add(client);
  }
  const call = (client as unknown as Record<string, ManyCall>)[ACQUIRE_MANY_COMMAND]!.bind(client);
  const cluster = client.isCluster;

  return {
    async tryAcquireMany(requests) {
      open();
      if (requests.length === 0) return [];
      const names: string[] = [];
      const args: Array<string | number> = [retention];
      for (const { key, owner, ttlMs } of requests) {
        const k = lockKeys(prefix, key);
        names.push(k.lock, k.fence, k.wait);
        args.push(owner, ttlMs);
      }
      const first = requests[0]!;
      const results = decodeAcquireManyReply(
        await runner.run('acquire', first.key, () => call(names.length, ...names, ...args)),
        requests.length,
      );
      // As a single acquire: fresh grants have their copies counted (one WAIT covers the whole
      // script, which ran on one server); too few copies undo every hold this call added.
      const fresh = results.some((r) => r.acquired && !r.reentered);
      if (fresh && context.replicas.options.waitForReplicas > 0) {
        await awaitReplicas(context.replicas, 'acquire', first.key, names[0]!, () =>
          Promise.all(requests.map((r) => context.release(r.key, r.owner, 'acquire'))),
        );
      }
      return results;
    },

    manyGroup(key) {
      return cluster ? String(keySlot(lockKeys(prefix, key).lock)).padStart(5, '0') : '';
    },
  };
}
