import { homedir } from 'node:os';
import { join } from 'node:path';

const FILE_NAME = 'locks.db';

/**
 * The folder of the host-wide default file on Linux and macOS. Under /var/tmp, not /tmp: it
 * survives reboots (where /tmp is often emptied), so the fencing counter in the file never
 * starts again from 1.
 */
export const SHARED_DIRECTORY = '/var/tmp/dlock';

/** `/var/tmp/dlock/locks.db`: the file every user of the host shares by default. */
export const SHARED_DEFAULT_PATH = join(SHARED_DIRECTORY, FILE_NAME);

/**
 * Where `sqlite:` (no path) keeps its file: `DLOCK_SQLITE_PATH` if set, else
 * `/var/tmp/dlock/locks.db` on Linux and macOS, one file for every user on the host, so a root
 * cron job and a service account running the same job exclude each other. That folder and file
 * are created readable and writable by every local user (see `prepareSharedFile`). On Windows
 * the default is per user, `%LOCALAPPDATA%\dlock\locks.db`: set `DLOCK_SQLITE_PATH` there to
 * share one file between users.
 */
export function defaultDatabasePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DLOCK_SQLITE_PATH) return env.DLOCK_SQLITE_PATH;
  if (process.platform === 'win32') {
    return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'dlock', FILE_NAME);
  }
  return SHARED_DEFAULT_PATH;
}
