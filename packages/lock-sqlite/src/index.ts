export { connectBackend } from './connect-backend.js';
export { defaultDatabasePath } from './default-path.js';
export type { SqliteBackendOptions } from './options.js';
export { sqliteBackend } from './sqlite-backend.js';
