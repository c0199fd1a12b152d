export type { EtcdClientLike } from './client-types.js';
export { connectBackend } from './connect-backend.js';
export { etcdBackend } from './etcd-backend.js';
export type { EtcdBackendOptions } from './options.js';
