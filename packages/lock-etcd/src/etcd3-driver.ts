/**
 * `EtcdDriver` on the etcd3 package: raw KV transactions for the queue, raw lease RPCs with
 * every keep-alive on one shared LeaseKeepAlive stream, and etcd3's `WatchBuilder` for deletions
 * (etcd3 resubscribes watchers after a reconnect and replays from the last revision it saw).
 */

import type { IKeyValue, IRangeRequest, IRequestOp } from 'etcd3';
import type {
  DeleteWatch,
  Enqueued,
  EtcdClientLike,
  EtcdDriver,
  Standing,
  StoredKey,
  WatchHandlers,
} from './driver.js';
import { KeepAliveChannel } from './etcd3-lease.js';
import { isContender, prefixRangeEnd } from './keys.js';
import { listEtcd } from './list.js';
import { reportError } from './report-error.js';

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

export function createEtcd3Driver(client: EtcdClientLike, requestTimeoutMs: number): EtcdDriver {
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

  /** All contenders of a queue, oldest first (the slow path when a nested lock name got in the way). */
  async function contenders(queue: string, maxCreateRevision?: bigint): Promise<StoredKey[]> {
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
    return response.kvs.map(stored).filter((kv) => isContender(queue, kv.key));
  }

  /** One candidate from a limit-1 read; falls back to a full read if it was a nested lock's key. */
  async function pick(
    queue: string,
    candidate: IKeyValue | undefined,
    newest: boolean,
    maxCreateRevision?: bigint,
  ): Promise<StoredKey | undefined> {
    if (!candidate) return undefined;
    const kv = stored(candidate);
    if (isContender(queue, kv.key)) return kv;
    const all = await contenders(queue, maxCreateRevision);
    return newest ? all.at(-1) : all[0];
  }

  const oldestOp = (queue: string): IRequestOp => ({
    request_range: { ...queueRange(queue), sort_order: 'Ascend', sort_target: 'Create', limit: 1 },
  });

  return {
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
        const own = raw(key);
        const response = await client.kv.txn(
          {
            compare: [{ key: own, target: 'Create', result: 'Equal', create_revision: 0 }],
            success: [
              { request_put: { key: own, value: Buffer.from(value, 'utf8'), lease } },
              oldestOp(queue),
            ],
          },
          options(),
        );
        // Keys are never reused, so this is a driver bug or a foreign write under our name.
        if (!response.succeeded) throw new Error(`etcd already has a key ${key}`);
        // The transaction's revision is the one its put created the key at.
        const revision = BigInt(response.header.revision);
        return {
          own: { key, value, createRevision: revision, modRevision: revision, lease },
          first: await pick(queue, response.responses[1]?.response_range.kvs[0], false),
        };
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
      return call(async (): Promise<Standing> => {
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
          predecessor: await pick(queue, previous, true, before),
          own: own ? stored(own) : undefined,
          olderKeys: Number(response.responses[2]?.response_range.count ?? Number.NaN),
          revision: BigInt(response.header.revision),
        };
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
        const response = await client.kv.txn(
          {
            compare: [
              { key: raw(key), target: 'Mod', result: 'Equal', mod_revision: String(modRevision) },
            ],
            success: [
              {
                request_put: {
                  key: raw(key),
                  value: Buffer.from(value, 'utf8'),
                  ...(lease === undefined ? { ignore_lease: true } : { lease }),
                },
              },
            ],
          },
          options(),
        );
        return response.succeeded ? BigInt(response.header.revision) : undefined;
      });
    },

    deleteIfModRevision(key, modRevision) {
      return call(async () => {
        const response = await client.kv.txn(
          {
            compare: [
              { key: raw(key), target: 'Mod', result: 'Equal', mod_revision: String(modRevision) },
            ],
            success: [{ request_delete_range: { key: raw(key) } }],
          },
          options(),
        );
        return response.succeeded;
      });
    },

    deleteIfCreateRevision(key, createRevision) {
      return call(async () => {
        const response = await client.kv.txn(
          {
            compare: [
              {
                key: raw(key),
                target: 'Create',
                result: 'Equal',
                create_revision: String(createRevision),
              },
            ],
            success: [{ request_delete_range: { key: raw(key) } }],
          },
          options(),
        );
        return response.succeeded;
      });
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

/**
 * Deletions of one key or under a prefix, on etcd3's `WatchBuilder` (which resubscribes after a
 * reconnect and replays from the last revision it saw); a reconnect or a stream error tells the
 * caller to re-read, since events may have been missed.
 */
async function watchDeletes(
  client: EtcdClientLike,
  target: { readonly key: string } | { readonly prefix: string },
  fromRevision: bigint | undefined,
  handlers: WatchHandlers,
): Promise<DeleteWatch> {
  let builder = client.watch();
  builder = 'key' in target ? builder.key(target.key) : builder.prefix(target.prefix);
  builder = builder.only('delete');
  if (fromRevision !== undefined) builder = builder.startRevision(String(fromRevision));
  const watcher = await builder.create();
  let disconnected = false;
  watcher.on('delete', () => handlers.onDelete());
  watcher.on('disconnected', () => {
    disconnected = true;
  });
  watcher.on('connected', () => {
    if (!disconnected) return;
    disconnected = false;
    handlers.onResync();
  });
  // A non-recoverable watch error (a compacted start revision, a permission change): the stream is
  // gone, so the caller must re-read rather than wait for an event that will not come.
  watcher.on('error', () => handlers.onResync());
  let closing: Promise<void> | undefined;
  return {
    close() {
      // A cancel that fails leaves a watch etcd3 drops with its stream: nothing to undo.
      closing ??= watcher
        .cancel()
        .catch((error: unknown) => reportError('watch', undefined, error));
      return closing;
    },
  };
}
