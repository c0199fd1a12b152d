export {
  type EtcdCluster,
  type EtcdClusterOptions,
  type EtcdMember,
  startEtcdCluster,
} from './etcd-cluster.js';
export { type FreePortsOptions, freePort, freePorts, probeTcp } from './net.js';
export {
  commandExists,
  type ManagedProcess,
  type NodeWorkerOptions,
  type ProcessExit,
  type StartProcessOptions,
  spawnNodeWorker,
  startProcess,
} from './processes.js';
export {
  requireRedisBinaries,
  requireSharedRedis,
  SHARED_REDIS,
  type StartRedisOptions,
  startRedisServer,
  type TestRedisServer,
  uniquePrefix,
} from './redis-server.js';
export { inCi, requireService, type ServiceStatus } from './service-gate.js';
export { type CutMode, startTcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
export { makeTempDir } from './temp-dir.js';
export { type WaitUntilOptions, waitUntil } from './wait.js';
