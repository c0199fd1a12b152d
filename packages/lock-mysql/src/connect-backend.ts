import type { LockBackend } from '@dlock/lock-core';
import { LockArgumentError } from '@dlock/lock-core';
import { createBackend } from './mysql-backend.js';
import type { MysqlBackendOptions } from './options.js';
import type { OwnedMysqlPool } from './pool-types.js';

/**
 * `connect('mysql://user:pass@host:3306/db?mode=get-lock&table=locks')` support (the
 * `BackendAdapterModule` contract). The backend creates its own mysql2 pool from the URL and ends
 * it in `close()`. Query parameters `mode`, `table`, `lockNamePrefix`, `acquireTimeoutMs` and
 * `queryTimeoutMs`, and `options` (from
 * `connect(url, { backend })`), set the backend's options; everything else in the URL goes to
 * mysql2 (`connectionLimit`, `connectTimeout`, …).
 */
export async function connectBackend(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<LockBackend> {
  if (url.protocol !== 'mysql:') {
    throw new LockArgumentError(`connectBackend expects a mysql:// URL, got ${url.protocol}`);
  }
  const uri = new URL(url.href);
  const fromUrl: Record<string, unknown> = {};
  for (const name of ['mode', 'table', 'lockNamePrefix'] as const) {
    const value = uri.searchParams.get(name);
    if (value !== null) fromUrl[name] = value;
    uri.searchParams.delete(name);
  }
  for (const name of ['acquireTimeoutMs', 'queryTimeoutMs'] as const) {
    const value = uri.searchParams.get(name);
    if (value !== null) fromUrl[name] = Number(value);
    uri.searchParams.delete(name);
  }
  // Fail fast instead of hanging when the server is unreachable.
  if (!uri.searchParams.has('connectTimeout')) uri.searchParams.set('connectTimeout', '5000');
  const { pool: _ignored, ...rest } = options as Record<string, unknown>;
  const settings = { ...fromUrl, ...rest } as Omit<MysqlBackendOptions, 'pool'>;
  const { createPool } = await import('mysql2/promise');
  const pool = createPool(uri.href) as unknown as OwnedMysqlPool;
  try {
    return createBackend({ ...settings, pool }, pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
}
