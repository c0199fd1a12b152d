import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const FILE_NAME = 'locks.db';

/**
 * Where `sqlite:` (no path) keeps its file: `$XDG_CACHE_HOME/dlock`, else `~/.cache/dlock` on
 * Linux, `~/Library/Caches/dlock` on macOS, `%LOCALAPPDATA%\dlock` on Windows; the OS temp folder
 * when there is no home. `DLOCK_SQLITE_PATH` overrides it, so tests and CI never touch the real
 * cache. Every process of one user on one host resolves the same file, which is the point.
 */
export function defaultDatabasePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DLOCK_SQLITE_PATH) return env.DLOCK_SQLITE_PATH;
  return join(cacheDir(env), 'dlock', FILE_NAME);
}

function cacheDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_CACHE_HOME) return env.XDG_CACHE_HOME;
  let home: string;
  try {
    home = homedir();
  } catch {
    return tmpdir();
  }
  if (!home) return tmpdir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Caches');
  if (process.platform === 'win32') return env.LOCALAPPDATA ?? join(home, 'AppData', 'Local');
  return join(home, '.cache');
}
