import {
  connect,
  createLockClient,
  type LockClient,
  type LockClientOptions,
} from '@dlock/lock-core';
import { UsageError } from './cli-error.js';

/** The embedded default: one SQLite file per host, /var/tmp/dlock/locks.db (see @dlock/lock-sqlite). */
export const DEFAULT_URL = 'sqlite:';

/** `--url`, else `DLOCK_URL`, else the embedded SQLite default. */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? (env.DLOCK_URL || DEFAULT_URL);
}

/**
 * Opens a lock client on `url`. The embedded SQLite backend ships with the CLI and is imported
 * directly; every other scheme goes through lock-core's `connect()`, which finds the adapter
 * where lock-core is installed or in the project in the current directory, and whose error names
 * the package to install when it is missing.
 */
export async function openClient(url: string, options: LockClientOptions): Promise<LockClient> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `"${url}" is not a lock URL. Examples: sqlite:./locks.db, redis://127.0.0.1:6379, mysql://user:pass@host/db, etcd://127.0.0.1:2379`,
    );
  }
  if (parsed.protocol === 'sqlite:') {
    const { connectBackend } = await import('@dlock/lock-sqlite');
    return createLockClient(await connectBackend(parsed, {}), options);
  }
  return connect(parsed, options);
}
