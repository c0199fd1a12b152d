/**
 * The driver seam: the structural type of the user's etcd3 client, and the small interface
 * between the Mutex and etcd. Everything the adapter needs from etcd is here, as a handful of
 * single-round-trip operations, so that etcd3 could be swapped for another driver without
 * touching the algorithm. Drivers reject with their own errors; the backend wraps them into
 * `LockBackendError` named after the SPI operation that failed.
 */
import type { ListPage, ListRequest } from '@dlock/lock-core';
import type { Namespace } from 'etcd3';

/**
 * An etcd3 `Etcd3` client or a `client.namespace(…)` of one: the parts the adapter uses, typed
 * from etcd3's own declarations so that the package never imports etcd3 at runtime.
 */
export type EtcdClientLike = Pick<Namespace, 'kv' | 'leaseClient' | 'lease' | 'watch'> & {
  /** The namespace prefix: empty for a plain `Etcd3` client. */
  readonly prefix?: Buffer;
};

/** One key as etcd stored it, with the revisions that order the wait queue. */
export interface StoredKey {
  /** The key (relative to the client's namespace). */
  readonly key: string;
  readonly value: string;
  /** Revision of the put that created the key: the fencing token and the queue position. */
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  /** Decimal id of the lease the key is attached to, `'0'` when none. */
  readonly lease: string;
}

/** A lease etcd granted. */
export interface GrantedLease {
  /** Decimal lease id as etcd reports it. */
  readonly id: string;
  /** The granted TTL in seconds (etcd raises a TTL below its minimum to that minimum). */
  readonly ttlSeconds: number;
}

/** The result of the Mutex's first transaction. */
export interface Enqueued {
  /** Our new key as stored by the transaction: its create revision is our place in the queue. */
  readonly own: StoredKey;
  /** The oldest lock key of the queue: the holder (ours when we are first). */
  readonly first: StoredKey | undefined;
}

/** Where a queued key stands, read at one store revision. */
export interface Standing {
  /** The newest lock key of the queue created before ours: the one to wait for. */
  readonly predecessor: StoredKey | undefined;
  /** Our own key, if it still exists (gone means our session expired). */
  readonly own: StoredKey | undefined;
  /**
   * How many keys under the queue prefix were created before ours (an upper bound on older
   * contenders: keys of nested lock names count too).
   */
  readonly olderKeys: number;
  readonly revision: bigint;
}

export interface DeleteWatch {
  /** Stops watching. Idempotent; never rejects. */
  close(): Promise<void>;
}

export interface WatchHandlers {
  /** A watched key was deleted. */
  onDelete(): void;
  /** Events may have been missed (reconnect, compaction): re-read instead of trusting the stream. */
  onResync(): void;
}

/** One change a `watchChanges` watch saw. */
export interface KeyChange {
  readonly type: 'put' | 'delete';
  /** The key (relative to the client's namespace). */
  readonly key: string;
  /** For a put: the key's create revision (a new key's is the put's own revision). 0 for a delete. */
  readonly createRevision: bigint;
  /** For a put: 1 when the put created the key, more when it changed an existing one. */
  readonly version: number;
}

export interface ChangeHandlers {
  onChange(change: KeyChange): void;
  /** Events may have been missed (reconnect, compaction): re-read instead of trusting the stream. */
  onResync(): void;
}

/** A contender read of a semaphore or read-write queue, at one store revision. */
export interface SharedQueueRead {
  /** Its direct contenders (`q<hex>_<n>`), oldest (lowest create revision) first. */
  readonly contenders: readonly StoredKey[];
  readonly revision: bigint;
}

/** One key of an `acquireMany` transaction. */
export type ManyItem =
  | {
      readonly fresh: {
        readonly queue: string;
        readonly key: string;
        readonly value: string;
        readonly lease: string;
      };
    }
  | {
      readonly reenter: {
        readonly key: string;
        readonly modRevision: bigint;
        readonly value: string;
      };
    };

export interface EtcdDriver {
  /** Grants a lease of `ttlSeconds`. Nothing keeps it alive but `keepAlive` calls. */
  grantLease(ttlSeconds: number): Promise<GrantedLease>;
  /**
   * One keep-alive of a lease, sent on the driver's single keep-alive stream (shared by every
   * lease of the backend). Resolves the TTL in seconds etcd renewed it for, 0 when the lease no
   * longer exists.
   */
  keepAlive(lease: string): Promise<number>;
  /** Revokes a lease: etcd deletes every key attached to it. */
  revokeLease(lease: string): Promise<void>;
  /** Ends the keep-alive stream (pending keep-alives reject). */
  closeLeases(): void;
  /**
   * Mutex step one, in one transaction: create `key` (value, lease), which must not exist, and
   * read the oldest lock key of `queue`.
   */
  enqueue(queue: string, key: string, value: string, lease: string): Promise<Enqueued>;
  /**
   * `tryAcquire`'s step one, in one transaction: create `key` (value, lease) only if no key at all
   * is under `queue`, else read the oldest lock key of `queue`. `own` undefined: nothing was put.
   */
  enqueueIfFree(
    queue: string,
    key: string,
    value: string,
    lease: string,
  ): Promise<{ readonly own: StoredKey | undefined; readonly first: StoredKey | undefined }>;
  /** The newest lock key of `queue` created before `createRevision`, and `key`, in one read. */
  standing(queue: string, key: string, createRevision: bigint): Promise<Standing>;
  /** The oldest lock key of `queue` (the holder), if any. */
  oldest(queue: string): Promise<StoredKey | undefined>;
  /** Reads several keys in one round trip, in order. */
  getMany(keys: readonly string[]): Promise<(StoredKey | undefined)[]>;
  /**
   * Replaces the value if the key's mod revision is unchanged, keeping its lease, or moving it to
   * `lease` when given (the create revision stays: same queue place, same fencing token). New
   * mod revision, or undefined.
   */
  putIfModRevision(
    key: string,
    modRevision: bigint,
    value: string,
    lease?: string,
  ): Promise<bigint | undefined>;
  /** Deletes the key if its mod revision is unchanged. */
  deleteIfModRevision(key: string, modRevision: bigint): Promise<boolean>;
  /** Deletes the key if it is still the incarnation created at `createRevision`. */
  deleteIfCreateRevision(key: string, createRevision: bigint): Promise<boolean>;
  /** The lease's remaining TTL in milliseconds, or undefined when it no longer exists. */
  leaseRemainingMs(lease: string): Promise<number | undefined>;
  /**
   * Watches deletions of one key or of every key under a prefix, from `fromRevision` (so nothing
   * between a read and the watch is missed). Resolves once etcd confirmed the watch.
   */
  watchDeletes(
    target: { readonly key: string } | { readonly prefix: string },
    fromRevision: bigint | undefined,
    handlers: WatchHandlers,
  ): Promise<DeleteWatch>;
  /**
   * Shared keys, step one, in one transaction: create `key` (value, lease), which must not exist,
   * and read every contender of `queue` (ours is the newest: the put is the last revision).
   */
  sharedEnqueue(
    queue: string,
    key: string,
    value: string,
    lease: string,
  ): Promise<SharedQueueRead & { readonly own: StoredKey }>;
  /** The contenders of `queue` created at or before `maxCreateRevision` (every one without). */
  sharedRange(queue: string, maxCreateRevision?: bigint): Promise<SharedQueueRead>;
  /**
   * Replaces the values of `writes` (keeping their leases) in one transaction, if none of them
   * changed since its `modRevision` and no key was created under `queue` after `revision`.
   */
  rewriteIfUnchanged(
    queue: string,
    revision: bigint,
    writes: readonly {
      readonly key: string;
      readonly modRevision: bigint;
      readonly value: string;
    }[],
  ): Promise<boolean>;
  /** Deletes each key that is still the incarnation created at its revision; how many went. */
  deleteIncarnations(
    keys: readonly { readonly key: string; readonly createRevision: bigint }[],
  ): Promise<number>;
  /** Watches puts and deletions of one key or under a prefix, from `fromRevision` (as `watchDeletes`). */
  watchChanges(
    target: { readonly key: string } | { readonly prefix: string },
    fromRevision: bigint | undefined,
    handlers: ChangeHandlers,
  ): Promise<DeleteWatch>;
  /**
   * Elections, step one, in one transaction: create the candidate `key` (public `value`) and its
   * `side` record (`sideValue`: the owner) on `lease`; `key` must not exist. Reads the oldest
   * candidate of `queue` as of the put.
   */
  campaignPut(
    queue: string,
    key: string,
    value: string,
    side: string,
    sideValue: string,
    lease: string,
  ): Promise<Enqueued>;
  /** `standing`, counting only election candidates (`<pfx>/<leaseHex>`) as the queue. */
  candidateStanding(queue: string, key: string, createRevision: bigint): Promise<Standing>;
  /**
   * The election's leader: the oldest candidate of `queue` and, read at the same store revision,
   * the key `sideOf` names for it (its side record, absent for a foreign candidate).
   */
  electionLeader(
    queue: string,
    sideOf: (leader: StoredKey) => string,
  ): Promise<{ readonly leader: StoredKey; readonly side: StoredKey | undefined } | undefined>;
  /**
   * One transaction: if every guard key still has its create revision, run the puts (keeping
   * each key's lease unless `lease` is given) and deletes. Whether it ran.
   */
  electionTxn(
    guards: readonly { readonly key: string; readonly createRevision: bigint }[],
    ops: readonly (
      | { readonly put: string; readonly value: string; readonly lease?: string }
      | { readonly delete: string }
    )[],
  ): Promise<boolean>;
  /**
   * `tryAcquireMany`'s step, in one all-or-nothing transaction: create each `fresh` key (value,
   * lease) if its queue is free, and rewrite each `reenter` key (keeping its lease) if its mod
   * revision is unchanged. A queue is free when it holds no key at all, or, with `freeAt`, no key
   * created after that revision (the caller saw no contender there at `freeAt`). When refused,
   * nothing was written, and `reads[i]` is the oldest contender of item i's queue (fresh) or its
   * key as stored (reenter), read in the same transaction.
   */
  acquireMany(
    items: readonly ManyItem[],
    freeAt: bigint | undefined,
  ): Promise<{
    readonly succeeded: boolean;
    readonly revision: bigint;
    readonly reads: readonly (StoredKey | undefined)[];
  }>;
  /** One page of `list()`: the holds under `prefix + request.prefix` (see `list.ts`). */
  list(prefix: string, request: ListRequest): Promise<ListPage>;
}
