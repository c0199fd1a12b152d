import type { ListedState, ListPage, ListRequest } from '@dlock/lock-core';
import type { IKeyValue } from 'etcd3';
import type { EtcdClientLike } from './driver.js';
import { decodeHolder, isContender, prefixRangeEnd, queuePrefix } from './keys.js';

export interface EtcdListContext {
  readonly client: EtcdClientLike;
  /** The backend's `prefix` option. */
  readonly prefix: string;
  readonly requestTimeoutMs: number;
}

/**
 * `list()` on etcd: range reads under `${prefix}${userPrefix}`, all at the store revision of the
 * first page (etcd's MVCC), so the pages together are one snapshot, with the prefix as bytes.
 *
 * A page reads up to `limit` contender keys (keys only), names the locks they belong to
 * (`${prefix}${key}/${leaseHex}_${n}`: the key is everything before the last `/`), and reads each of
 * those locks' whole queues at the same revision: the holder is the oldest contender (its create
 * revision is the fencing token), and everyone else in the queue waits, so `waiters` is known.
 * Keys of nested lock names (`a/1/b/<hex>` under `a/1/`) interleave with a lock's own in key
 * order, so a lock's queue may span pages: it is reported on the page that holds its first key.
 * The remaining TTL is the holder's lease's (whole seconds); an expired lease's keys are gone.
 *
 * The cursor is `<revision>:<next start key, base64url>`. A listing that outlives etcd's
 * compaction of its revision fails (the backend reports it as `LockBackendError`; start again).
 */
export async function listEtcd(ctx: EtcdListContext, request: ListRequest): Promise<ListPage> {
  const { client, prefix } = ctx;
  const ns = client.prefix ?? Buffer.alloc(0);
  const raw = (key: string): Buffer => Buffer.concat([ns, Buffer.from(key, 'utf8')]);
  const options = () => ({ deadline: Date.now() + ctx.requestTimeoutMs });
  const rangeStart = raw(prefix + request.prefix);
  const rangeEnd = prefixRangeEnd(rangeStart);
  const [revision, start] = parseCursor(request.cursor, rangeStart);
  const page = await client.kv.range(
    {
      key: start,
      range_end: rangeEnd,
      limit: request.limit,
      keys_only: true,
      ...(revision === undefined ? {} : { revision }),
    },
    options(),
  );
  const at = revision ?? page.header.revision;
  const locks = new Set<string>();
  for (const kv of page.kvs) {
    const name = kv.key.subarray(ns.length).toString('utf8');
    const slash = name.lastIndexOf('/');
    const key = name.slice(prefix.length, slash);
    if (
      slash > prefix.length &&
      key.startsWith(request.prefix) &&
      isContender(name.slice(0, slash + 1), name, prefix)
    ) {
      locks.add(key);
    }
  }
  const queues = await Promise.all(
    [...locks].map(async (key) => {
      const queue = queuePrefix(prefix, key);
      const response = await client.kv.range(
        { key: raw(queue), range_end: prefixRangeEnd(raw(queue)), revision: at },
        options(),
      );
      const contenders = response.kvs.filter((kv) =>
        isContender(queue, kv.key.subarray(ns.length).toString('utf8'), prefix),
      );
      return { key, contenders };
    }),
  );
  const ttls = new Map<string, Promise<number>>();
  const leaseTtl = (lease: string): Promise<number> => {
    let ttl = ttls.get(lease);
    if (!ttl) {
      ttl = client.leaseClient
        .leaseTimeToLive({ ID: lease }, options())
        .then((r) => Number(r.TTL) * 1000);
      ttls.set(lease, ttl);
    }
    return ttl;
  };
  const listed = await Promise.all(
    queues.map(async ({ key, contenders }): Promise<ListedState | null> => {
      // Reported where its first key is; an earlier page already did if that is before this one.
      const first = contenders.reduce<IKeyValue | undefined>(
        (min, kv) => (min === undefined || Buffer.compare(kv.key, min.key) < 0 ? kv : min),
        undefined,
      );
      if (!first || Buffer.compare(first.key, start) < 0) return null;
      const holder = contenders.reduce((a, b) =>
        BigInt(b.create_revision) < BigInt(a.create_revision) ? b : a,
      );
      const lease = String(holder.lease ?? '0');
      const ttlMs = lease === '0' ? Number.POSITIVE_INFINITY : await leaseTtl(lease);
      // TTL is whole seconds, rounded down: 0 is "under a second left", -1 is "expired".
      if (ttlMs < 0) return null;
      const value = decodeHolder(holder.value.toString('utf8'), lease);
      return {
        key,
        owner: value.owner,
        count: value.count,
        ttlMs,
        fencingToken: BigInt(holder.create_revision),
        waiters: contenders.length - 1,
      };
    }),
  );
  const last = page.kvs.at(-1);
  const cursor =
    page.more && last
      ? `${at}:${Buffer.concat([last.key, Buffer.from([0])]).toString('base64url')}`
      : undefined;
  return { locks: listed.filter((hold) => hold !== null), cursor };
}

function parseCursor(cursor: string | undefined, first: Buffer): [string | undefined, Buffer] {
  if (cursor === undefined) return [undefined, first];
  const colon = cursor.indexOf(':');
  return [cursor.slice(0, colon), Buffer.from(cursor.slice(colon + 1), 'base64url')];
}
