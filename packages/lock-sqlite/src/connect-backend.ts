import { LockArgumentError } from '@dlock/lock-core';
import type { LockBackend } from '@dlock/lock-core/spi';
import type { SqliteBackendOptions } from './options.js';
import { sqliteBackend } from './sqlite-backend.js';

/**
 * What `connect('sqlite:…')` in `@dlock/lock-core` calls. Accepted URLs:
 * - `sqlite:` — the default file (see `defaultDatabasePath`)
 * - `sqlite:./locks.db`, `sqlite:locks.db` — relative to the current directory
 * - `sqlite:/var/lib/app/locks.db`, `sqlite:///var/lib/app/locks.db` — absolute
 * - `sqlite::memory:` — private to this backend (tests)
 * Query parameters `tablePrefix`, `busyTimeoutMs`, `synchronous` and `driver` set those options; `options`
 * (from `connect(url, { backend })`) override them.
 */
export async function connectBackend(
  url: URL,
  options: Readonly<Record<string, unknown>> = {},
): Promise<LockBackend> {
  if (url.protocol !== 'sqlite:') {
    throw new LockArgumentError(`@dlock/lock-sqlite cannot open ${url.protocol} URLs`);
  }
  if (url.host !== '' && url.host !== 'localhost') {
    throw new LockArgumentError(
      `A sqlite: URL names a local file, not a host ("${url.host}"); write sqlite:/absolute/path.db or sqlite:./relative.db`,
    );
  }
  const fromQuery: Record<string, unknown> = {};
  for (const [name, value] of url.searchParams) {
    if (name === 'tablePrefix' || name === 'synchronous' || name === 'driver')
      fromQuery[name] = value;
    else if (name === 'busyTimeoutMs') fromQuery[name] = Number(value);
    else {
      throw new LockArgumentError(
        `connect('sqlite:…'): unknown URL's query parameter "${name}"; known: tablePrefix, busyTimeoutMs, synchronous`,
      );
    }
  }
  const path = decodeURIComponent(url.pathname);
  return sqliteBackend({
    ...(path === '' ? {} : { path }),
    ...fromQuery,
    ...(options as SqliteBackendOptions),
  });
}
