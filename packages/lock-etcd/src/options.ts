import { LockArgumentError } from '@dlock/lock-core';
import { durationMs, rejectUnknownOptions } from '@dlock/lock-core/spi';
import type { EtcdClientLike } from './driver.js';

export interface EtcdBackendOptions {
  /**
   * The etcd3 `Etcd3` client (or a namespace of one) to use. The backend never closes it.
   */
  client: EtcdClientLike;
  /**
   * Prepended to every lock key: the lock `k` queues under `${prefix}k/`. With `''` the layout
   * is exactly that of `etcdctl lock k`, and the two exclude each other.
   * @default 'dlock/'
   */
  prefix?: string;
  /**
   * @deprecated Accepted and ignored (still validated: an integer from 1000 to 2^31-1). Locks no
   * longer live on one long session lease: each lock TTL class has a lease of that TTL, so a
   * crashed or frozen process's locks end within their own `ttlMs`, and any `ttlMs` is allowed.
   */
  sessionTtlMs?: number;
  /**
   * Deadline of each request to etcd, in milliseconds: a request to an unreachable cluster
   * fails with `LockBackendError` after this rather than hanging.
   * @default 5000
   */
  requestTimeoutMs?: number;
}

export interface EtcdSettings {
  readonly client: EtcdClientLike;
  readonly prefix: string;
  readonly requestTimeoutMs: number;
}

const KNOWN_OPTIONS: ReadonlySet<keyof EtcdBackendOptions> = new Set([
  'client',
  'prefix',
  'sessionTtlMs',
  'requestTimeoutMs',
]);

export function resolveOptions(options: EtcdBackendOptions): EtcdSettings {
  if (typeof options !== 'object' || options === null) {
    throw new LockArgumentError('etcdBackend needs an options object: etcdBackend({ client })');
  }
  rejectUnknownOptions('etcdBackend', options, KNOWN_OPTIONS);
  const { client, prefix = 'dlock/', sessionTtlMs = 60_000, requestTimeoutMs = 5_000 } = options;
  const c = client as Partial<EtcdClientLike> | undefined;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.lease !== 'function' ||
    typeof c.watch !== 'function' ||
    typeof c.kv?.txn !== 'function'
  ) {
    throw new LockArgumentError('etcdBackend: `client` must be an etcd3 Etcd3 client');
  }
  if (typeof prefix !== 'string')
    throw new LockArgumentError('etcdBackend: prefix must be a string');
  durationMs('etcdBackend: sessionTtlMs', sessionTtlMs, { min: 1_000 });
  durationMs('etcdBackend: requestTimeoutMs', requestTimeoutMs);
  return {
    client: client as EtcdClientLike,
    prefix,
    requestTimeoutMs,
  };
}
