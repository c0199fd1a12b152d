export type { RedlockClientLike } from './client-types.js';
export { connectBackend } from './connect-backend.js';
export { RedlockNodeError } from './errors.js';
export type { RedlockBackendOptions } from './options.js';
export { redlockBackend } from './redlock-backend.js';
