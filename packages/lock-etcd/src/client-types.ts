/**
 * The parts of an etcd3 `Etcd3` client (or one of its namespaces) the adapter uses. Typed
 * structurally from etcd3's own declarations so the package never imports etcd3 at runtime.
 */
import type { Namespace } from 'etcd3';

/** An etcd3 `Etcd3` client or a `client.namespace(…)` of one. */
export type EtcdClientLike = Pick<Namespace, 'kv' | 'leaseClient' | 'lease' | 'watch'> & {
  /** The namespace prefix: empty for a plain `Etcd3` client. */
  readonly prefix?: Buffer;
};
