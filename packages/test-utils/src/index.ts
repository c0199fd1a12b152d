export {
  checkLeaderLog,
  describeElectionReport,
  type ElectionFailoverReport,
  type ElectionLocks,
  type ElectionRivalOptions,
  type ElectionScenarioBase,
  type ElectionWorkerConfig,
  electionWorkerConfig,
  type LeaderHistoryOptions,
  type LeadershipLike,
  type LeaderWokeReport,
  runElectionWorker,
  runLeaderFreeze,
  runLeaderHistory,
  runLeaderKill,
} from './election-scenarios.js';
export { type ElectionTestsOptions, electionScenarioTests } from './election-tests.js';
export {
  type EtcdCluster,
  type EtcdClusterOptions,
  type EtcdMember,
  startEtcdCluster,
} from './etcd-cluster.js';
export {
  assertExclusion,
  type CounterLocks,
  type CounterSectionsOptions,
  type CounterSectionsReport,
  type CounterWorkerConfig,
  counterWorkerConfig,
  type ExclusionResult,
  type ExclusionRunOptions,
  type ExclusionWrite,
  runCounterSections,
  runExclusionWorkers,
} from './exclusion.js';
export {
  describeFaultReport,
  type FaultContenderLocks,
  type FaultHolderConfig,
  type FaultHolderLocks,
  type FaultScenarioOptions,
  type FaultScenarioReport,
  faultHolderConfig,
  type KillScenarioOptions,
  runFaultHolder,
  runFreezeScenario,
  runKillScenario,
  type WokeReport,
} from './fault-scenarios.js';
export {
  type MultiLocks,
  type MultiWorkerConfig,
  multiWorkerConfig,
  type OppositeOrdersOptions,
  type OppositeOrdersReport,
  runMultiWorker,
  runOppositeOrders,
} from './multi-scenarios.js';
export { uniqueName, uniquePrefix } from './names.js';
export { type FreePortsOptions, freePort, freePorts, probeTcp } from './net.js';
export { printedForms, rejectionOf } from './printed.js';
export {
  type PrivateMariadb,
  requireMariadbBinaries,
  startPrivateMariadb,
} from './private-mariadb.js';
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
  type StartClusterOptions,
  startRedisCluster,
  type TestRedisCluster,
} from './redis-cluster.js';
export {
  requireRedisBinaries,
  requireSharedRedis,
  SHARED_REDIS,
  type StartRedisOptions,
  spawnRedisServer,
  startRedisServer,
  type TestRedisServer,
} from './redis-server.js';
export { inCi, requireService, type ServiceStatus } from './service-gate.js';
export {
  probeMysql,
  probeRedis,
  requireMysql,
  requireRedis,
  SHARED_MYSQL_URL,
  SHARED_REDIS_URL,
} from './services.js';
export {
  describeSharedReport,
  maxOverlap,
  type PermitHistoryOptions,
  type PermitHistoryReport,
  type PermitKillOptions,
  type ReaderKillOptions,
  runPermitHistory,
  runPermitKill,
  runReaderKill,
  runSharedWorker,
  runWriterUnderReaders,
  type SharedKillReport,
  type SharedLocks,
  type SharedScenarioBase,
  type SharedWorkerConfig,
  sharedWorkerConfig,
  type WriterUnderReadersOptions,
} from './shared-scenarios.js';
export { type CutMode, startTcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
export { makeTempDir } from './temp-dir.js';
export {
  type CertFiles,
  makeTlsFiles,
  requireOpenssl,
  type TlsFiles,
} from './tls-files.js';
export { recordUnhandledRejections } from './unhandled.js';
export { type WaitUntilOptions, waitUntil } from './wait.js';
