export { connectBackend } from './connect-backend.js';
export { mysqlBackend } from './mysql-backend.js';
export type { MysqlBackendOptions, MysqlLockMode } from './options.js';
export type {
  MysqlConnectionLike,
  MysqlPool,
  MysqlPoolConnection,
  MysqlPoolLike,
  StatementOptions,
  WriteResult,
} from './pool-types.js';
export { type EnsureSchemaOptions, ensureSchema, schemaSql } from './schema.js';
