/**
 * `EtcdDriver` on the etcd3 package: raw KV transactions for the queue, raw lease RPCs with
 * every keep-alive on one shared LeaseKeepAlive stream, and etcd3's `WatchBuilder` for deletions
 * (etcd3 resubscribes watchers after a reconnect and replays from the last revision it saw).
 */

import type { IKeyValue, IRangeRequest, IRequestOp } from 'etcd3';
import type {
  Enqueued,
  EtcdClientLike,
  EtcdDriver,
  SharedQueueRead,
  Standing,
  StoredKey,
} from './driver.js';
import { isCandidate } from './election-keys.js';
import { KeepAliveChannel } from './etcd3-lease.js';
import { watchChanges, watchDeletes } from './etcd3-watch.js';
import { isContender, prefixRangeEnd } from './keys.js';
import { listEtcd } from './list.js';
import { isSharedContender } from './shared-keys.js';

/** A connection failure as gRPC and etcd3 word it (the message names the cause and endpoint). */
const CONNECTION_FAILURE =
  /UNAVAILABLE|No connection established|ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/;

/** etcd3's circuit breaker refused to call: it names no cause, only that earlier calls failed. */
function isBrokenCircuit(error: unknown): boolean {
  return (
    error instanceof Error &&
    ((error as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true ||
      /circuit breaker is open/.test(error.message))
  );
}
/** Reads per transaction: well under etcd's default --max-txn-ops of 128. */
const TXN_OPS = 100;

/**
 * `prefix`: the backend's key prefix, so that the mutex never takes an election's keys (under
 * `${prefix}elect/` and `${prefix}electors/`) for foreign contenders (see `isContender`).
 */
export function createEtcd3Driver(
  client: EtcdClientLike,
  requestTimeoutMs: number,
  prefix?: string,
): EtcdDriver {
  const ns = client.prefix ?? Buffer.alloc(0);
  const raw = (key: string): Buffer => Buffer.concat([ns, Buffer.from(key, 'utf8')]);
  const options = () => ({ deadline: Date.now() + requestTimeoutMs });
  const keepAlives = new KeepAliveChannel(client, requestTimeoutMs);

  const stored = (kv: IKeyValue): StoredKey => ({
    key: kv.key.subarray(ns.length).toString('utf8'),
    value: kv.value.toString('utf8'),
    createRevision: BigInt(kv.create_revision),
    modRevision: BigInt(kv.mod_revision),
    lease: String(kv.lease ?? '0'),
  });

  /**
   * The last connection failure a call saw. etcd3 opens its circuit breaker after three failed
   * attempts and then refuses every call for 5 s with "circuit breaker is open", which hides why:
   * such a refusal is reported as the failure that opened it (ECONNREFUSED and the endpoint).
   */
  let unreachable: Error | undefined;

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      unreachable = undefined;
      return result;
    } catch (error) {
      if (isBrokenCircuit(error)) {
        throw new Error(
          unreachable
            ? `etcd is unreachable: ${unreachable.message}`
            : 'etcd is unreachable: etcd3 refuses calls for a few seconds after repeated connection failures',
          { cause: unreachable ?? error },
        );
      }
      if (error instanceof Error && CONNECTION_FAILURE.test(error.message)) unreachable = error;
      throw error;
    }
  }

  const queueRange = (queue: string): Pick<IRangeRequest, 'key' | 'range_end'> => {
    const start = raw(queue);
    return { key: start, range_end: prefixRangeEnd(start) };
  };

  /** Which keys of a queue order it: the mutex's contenders, or an election's candidates. */
  type Filter = (queue: string, key: string) => boolean;
  const mutex: Filter = (queue, key) => isContender(queue, key, prefix);

  /** All contenders of a queue, oldest first (the slow path when a nested lock name got in the way). */
  async function contenders(
    queue: string,
    maxCreateRevision?: bigint,
    filter: Filter = mutex,
  ): Promise<StoredKey[]> {
    const response = await client.kv.range(
      {
        ...queueRange(queue),
        sort_order: 'Ascend',
        sort_target: 'Create',
        ...(maxCreateRevision === undefined
          ? {}
          : { max_create_revision: String(maxCreateRevision) }),
      },
      options(),
    );
    return response.kvs.map(stored).filter((kv) => filter(queue, kv.key));
  }

  /** One candidate from a limit-1 read; falls back to a full read if it was a nested lock's key. */
  async function pick(
    queue: string,
    candidate: IKeyValue | undefined,
    newest: boolean,
    maxCreateRevision?: bigint,
    filter: Filter = mutex,
  ): Promise<StoredKey | undefined> {
    if (!candidate) return undefined;
    const kv = stored(candidate);
    if (filter(queue, kv.key)) return kv;
    const all = await contenders(queue, maxCreateRevision, filter);
    return newest ? all.at(-1) : all[0];
  }

  const oldestOp = (queue: string): IRequestOp => ({
    request_range: { ...queueRange(queue), sort_order: 'Ascend', sort_target: 'Create', limit: 1 },
  });

  /** Every shared contender of a queue, oldest first, optionally up to a create revision. */
  const sharedRangeOp = (queue: string, maxCreateRevision?: bigint): IRequestOp => ({
    request_range: {
      ...queueRange(queue),
      sort_order: 'Ascend',
      sort_target: 'Create',
      ...(maxCreateRevision === undefined
        ? {}
        : { max_create_revision: String(maxCreateRevision) }),
    },
  });
  const sharedContenders = (queue: string, kvs: readonly IKeyValue[] | undefined): StoredKey[] =>
    (kvs ?? []).map(stored).filter((kv) => isSharedContender(queue, kv.key));

  /**
   * Puts a new contender key on `lease` and reads its queue with `read` in the same transaction,
   * so the read sees the queue as of the put. Resolves the read's reply and our key as stored.
   */
  async function putNew(
    key: string,
    value: string,
    lease: string,
    read: IRequestOp,
    more: readonly IRequestOp[] = [],
  ) {
    const own = raw(key);
    const response = await client.kv.txn(
      {
        compare: [{ key: own, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [
          { request_put: { key: own, value: Buffer.from(value, 'utf8'), lease } },
          read,
          ...more,
        ],
      },
      options(),
    );
    // Keys are never reused, so this is a driver bug or a foreign write under our name.
    if (!response.succeeded) throw new Error(`etcd already has a key ${key}`);
    // The transaction's revision is the one its put created the key at.
    const revision = BigInt(response.header.revision);
    const stored: StoredKey = {
      key,
      value,
      createRevision: revision,
      modRevision: revision,
      lease,
    };
    return { own: stored, read: response.responses[1]?.response_range, revision };
  }

  /** Runs `op` on `key` if the key's `target` revision is still `revision`; true if it ran. */
  async function ifRevision(
    key: string,
    target: 'Create' | 'Mod',
    revision: bigint,
    op: IRequestOp,
  ): Promise<{ succeeded: boolean; revision: bigint }> {
    const response = await client.kv.txn(
      {
        compare: [
          target === 'Create'
            ? { key: raw(key), target, result: 'Equal', create_revision: String(revision) }
            : { key: raw(key), target, result: 'Equal', mod_revision: String(revision) },
        ],
        success: [op],
      },
      options(),
    );
    return { succeeded: response.succeeded, revision: BigInt(response.header.revision) };
  }

  /** Deletes `key` if it is still the incarnation created at `createRevision`. */
  const deleteIfCreated = (key: string, createRevision: bigint): Promise<boolean> =>
    ifRevision(key, 'Create', createRevision, { request_delete_range: { key: raw(key) } }).then(
      (r) => r.succeeded,
    );

  /** Where `key` (created at `createRevision`) stands in `queue`, in one transaction. */
  async function standingOf(
    queue: string,
    key: string,
    createRevision: bigint,
    filter: Filter,
  ): Promise<Standing> {
    const before = createRevision - 1n;
    const response = await client.kv.txn(
      {
        success: [
          {
            request_range: {
              ...queueRange(queue),
              sort_order: 'Descend',
              sort_target: 'Create',
              max_create_revision: String(before),
              limit: 1,
            },
          },
          { request_range: { key: raw(key) } },
          {
            request_range: {
              ...queueRange(queue),
              max_create_revision: String(before),
              count_only: true,
            },
          },
        ],
      },
      options(),
    );
    const [previous, own] = response.responses.map((r) => r.response_range.kvs[0]);
    return {
      predecessor: await pick(queue, previous, true, before, filter),
      own: own ? stored(own) : undefined,
      olderKeys: Number(response.responses[2]?.response_range.count ?? Number.NaN),
      revision: BigInt(response.header.revision),
    };
  }

  return {
    sharedEnqueue(queue, key, value, lease) {
      return call(async () => {
        const { own, read, revision } = await putNew(key, value, lease, sharedRangeOp(queue));
        return { own, contenders: sharedContenders(queue, read?.kvs), revision };
      });
    },

    sharedRange(queue, maxCreateRevision) {
      return call(async (): Promise<SharedQueueRead> => {
        const response = await client.kv.range(
          sharedRangeOp(queue, maxCreateRevision).request_range!,
          options(),
        );
        return {
          contenders: sharedContenders(queue, response.kvs),
          revision: BigInt(response.header.revision),
        };
      });
    },

    rewriteIfUnchanged(queue, revision, writes) {
      return call(async () => {
        const response = await client.kv.txn(
          {
            compare: [
              // Over a range, a compare holds when it holds for every key in it.
              {
                ...queueRange(queue),
                target: 'Create',
                result: 'Less',
                create_revision: String(revision + 1n),
              },
              ...writes.map((w) => ({
                key: raw(w.key),
                target: 'Mod' as const,
                result: 'Equal' as const,
                mod_revision: String(w.modRevision),
              })),
            ],
            success: writes.map((w) => ({
              request_put: {
                key: raw(w.key),
                value: Buffer.from(w.value, 'utf8'),
                ignore_lease: true,
              },
            })),
          },
          options(),
        );
        return response.succeeded;
      });
    },

    deleteIncarnations(keys) {
      return call(async () => {
        // One transaction per key: a key that changed hands must not stop the others going.
        const deleted = await Promise.all(
          keys.map(({ key, createRevision }) => deleteIfCreated(key, createRevision)),
        );
        return deleted.filter(Boolean).length;
      });
    },

    watchChanges(target, fromRevision, handlers) {
      return call(() => watchChanges(client, target, fromRevision, handlers));
    },

    grantLease(ttlSeconds) {
      return call(async () => {
        const response = await client.leaseClient.leaseGrant({ TTL: ttlSeconds }, options());
        return { id: String(response.ID), ttlSeconds: Number(response.TTL) };
      });
    },

    keepAlive(lease) {
      return call(() => keepAlives.keepAlive(lease));
    },

    revokeLease(lease) {
      return call(async () => {
        await client.leaseClient.leaseRevoke({ ID: lease }, options());
      });
    },

    closeLeases() {
      keepAlives.close();
    },

    enqueue(queue, key, value, lease) {
      return call(async (): Promise<Enqueued> => {
        const { own, read } = await putNew(key, value, lease, oldestOp(queue));
        return { own, first: await pick(queue, read?.kvs[0], false) };
      });
    },

    enqueueIfFree(queue, key, value, lease) {
      return call(async () => {
        const response = await client.kv.txn(
          {
            // Over a range, a compare holds when it holds for every key in it: for an empty range,
            // etcd compares against a missing key (create revision 0).
            compare: [
              { ...queueRange(queue), target: 'Create', result: 'Equal', create_revision: 0 },
            ],
            success: [{ request_put: { key: raw(key), value: Buffer.from(value, 'utf8'), lease } }],
            failure: [oldestOp(queue)],
          },
          options(),
        );
        if (!response.succeeded) {
          const first = await pick(queue, response.responses[0]?.response_range.kvs[0], false);
          return { own: undefined, first };
        }
        const revision = BigInt(response.header.revision);
        return {
          own: { key, value, createRevision: revision, modRevision: revision, lease },
          first: undefined,
        };
      });
    },

    standing(queue, key, createRevision) {
      return call(() => standingOf(queue, key, createRevision, mutex));
    },

    candidateStanding(queue, key, createRevision) {
      return call(() => standingOf(queue, key, createRevision, isCandidate));
    },

    acquireMany(items, freeAt) {
      return call(async () => {
        const response = await client.kv.txn(
          {
            compare: items.map((item) =>
              'fresh' in item
                ? freeAt === undefined
                  ? // Over a range, a compare holds when it holds for every key in it; an empty
                    // range compares as a missing key (create revision 0).
                    {
                      ...queueRange(item.fresh.queue),
                      target: 'Create' as const,
                      result: 'Equal' as const,
                      create_revision: 0,
                    }
                  : {
                      ...queueRange(item.fresh.queue),
                      target: 'Create' as const,
                      result: 'Less' as const,
                      create_revision: String(freeAt + 1n),
                    }
                : {
                    key: raw(item.reenter.key),
                    target: 'Mod' as const,
                    result: 'Equal' as const,
                    mod_revision: String(item.reenter.modRevision),
                  },
            ),
            success: items.map(
              (item): IRequestOp =>
                'fresh' in item
                  ? {
                      request_put: {
                        key: raw(item.fresh.key),
                        value: Buffer.from(item.fresh.value, 'utf8'),
                        lease: item.fresh.lease,
                      },
                    }
                  : {
                      request_put: {
                        key: raw(item.reenter.key),
                        value: Buffer.from(item.reenter.value, 'utf8'),
                        ignore_lease: true,
                      },
                    },
            ),
            failure: items.map(
              (item): IRequestOp =>
                'fresh' in item
                  ? oldestOp(item.fresh.queue)
                  : { request_range: { key: raw(item.reenter.key) } },
            ),
          },
          options(),
        );
        const revision = BigInt(response.header.revision);
        if (response.succeeded) return { succeeded: true, revision, reads: [] };
        const reads = await Promise.all(
          items.map((item, i) => {
            const kv = response.responses[i]?.response_range.kvs[0];
            if ('fresh' in item) return pick(item.fresh.queue, kv, false);
            return kv ? stored(kv) : undefined;
          }),
        );
        return { succeeded: false, revision, reads };
      });
    },

    campaignPut(queue, key, value, side, sideValue, lease) {
      return call(async () => {
        const { own, read } = await putNew(key, value, lease, oldestOp(queue), [
          { request_put: { key: raw(side), value: Buffer.from(sideValue, 'utf8'), lease } },
        ]);
        return { own, first: await pick(queue, read?.kvs[0], false, undefined, isCandidate) };
      });
    },

    electionLeader(queue, sideOf) {
      return call(async () => {
        const response = await client.kv.range(oldestOp(queue).request_range!, options());
        const revision = response.header.revision;
        const first = await pick(queue, response.kvs[0], false, undefined, isCandidate);
        if (!first) return undefined;
        // At the same store revision: the side record written with that candidate, or none.
        const read = await client.kv.range({ key: raw(sideOf(first)), revision }, options());
        const side = read.kvs[0];
        return { leader: first, side: side ? stored(side) : undefined };
      });
    },

    electionTxn(guards, ops) {
      return call(async () => {
        const response = await client.kv.txn(
          {
            compare: guards.map((g) => ({
              key: raw(g.key),
              target: 'Create' as const,
              result: 'Equal' as const,
              create_revision: String(g.createRevision),
            })),
            success: ops.map(
              (op): IRequestOp =>
                'delete' in op
                  ? { request_delete_range: { key: raw(op.delete) } }
                  : {
                      request_put: {
                        key: raw(op.put),
                        value: Buffer.from(op.value, 'utf8'),
                        ...(op.lease === undefined ? { ignore_lease: true } : { lease: op.lease }),
                      },
                    },
            ),
          },
          options(),
        );
        return response.succeeded;
      });
    },

    oldest(queue) {
      return call(async () => {
        const response = await client.kv.range(oldestOp(queue).request_range!, options());
        return pick(queue, response.kvs[0], false);
      });
    },

    getMany(keys) {
      return call(async () => {
        // etcd caps the operations of one transaction (--max-txn-ops, 128 by default).
        const chunks: string[][] = [];
        for (let i = 0; i < keys.length; i += TXN_OPS) chunks.push(keys.slice(i, i + TXN_OPS));
        const responses = await Promise.all(
          chunks.map((chunk) =>
            client.kv.txn(
              { success: chunk.map((key) => ({ request_range: { key: raw(key) } })) },
              options(),
            ),
          ),
        );
        return responses.flatMap((response) =>
          response.responses.map((r) => {
            const kv = r.response_range.kvs[0];
            return kv ? stored(kv) : undefined;
          }),
        );
      });
    },

    putIfModRevision(key, modRevision, value, lease) {
      return call(async () => {
        const put = await ifRevision(key, 'Mod', modRevision, {
          request_put: {
            key: raw(key),
            value: Buffer.from(value, 'utf8'),
            ...(lease === undefined ? { ignore_lease: true } : { lease }),
          },
        });
        return put.succeeded ? put.revision : undefined;
      });
    },

    deleteIfModRevision(key, modRevision) {
      return call(async () => {
        const deleted = await ifRevision(key, 'Mod', modRevision, {
          request_delete_range: { key: raw(key) },
        });
        return deleted.succeeded;
      });
    },

    deleteIfCreateRevision(key, createRevision) {
      return call(() => deleteIfCreated(key, createRevision));
    },

    leaseRemainingMs(lease) {
      return call(async () => {
        if (lease === '0') return undefined;
        const response = await client.leaseClient.leaseTimeToLive({ ID: lease }, options());
        const ttl = Number(response.TTL);
        return ttl > 0 ? ttl * 1000 : undefined;
      });
    },

    watchDeletes(target, fromRevision, handlers) {
      return call(() => watchDeletes(client, target, fromRevision, handlers));
    },

    list(prefix, request) {
      return call(() => listEtcd({ client, prefix, requestTimeoutMs }, request));
    },
  };
}
