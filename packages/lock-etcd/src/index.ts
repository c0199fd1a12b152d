export { connectBackend } from './connect-backend.js';
export type { EtcdClientLike } from './driver.js';
export { etcdBackend } from './etcd-backend.js';
export type { EtcdBackendOptions } from './options.js';
