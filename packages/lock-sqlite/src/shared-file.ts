import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmdirSync,
  unlinkSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Makes sure the host-wide default file (`/var/tmp/dlock/locks.db`) exists and every local user
 * can lock through it, whoever comes first and whatever their umask:
 * - the folder is mode 0777. Not sticky (1777): with `fs.protected_regular` (on in systemd
 *   distributions) nobody, root included, may open with O_CREAT a file in a sticky world-writable
 *   folder that another user owns, and SQLite opens its `-wal` and `-shm` files that way;
 * - the database file is mode 0666. SQLite creates `-wal` and `-shm` with the database file's
 *   mode (and, as root, its owner), so they are shared as well.
 * Both appear under their final names with their final modes (made aside, then renamed or
 * linked), so no other process ever sees them half made. A symbolic link in their place is
 * refused (SQLite itself opens every file with O_NOFOLLOW).
 */
export function prepareSharedFile(file: string): void {
  const dir = dirname(file);
  const aside = (name: string) => `.${name}.${process.pid}.${randomBytes(4).toString('hex')}`;
  if (!exists(dir)) {
    const made = join(dirname(dir), aside(basename(dir)));
    mkdirSync(made);
    try {
      chmodSync(made, 0o777);
      renameSync(made, dir);
    } catch (error) {
      rmdirSync(made);
      // Another process made it first (EEXIST, ENOTEMPTY, or EPERM in a sticky /var/tmp): fine.
      if (!exists(dir)) throw error;
    }
  }
  if (!lstatSync(dir).isDirectory()) {
    throw new Error(`${dir} is not a directory: refusing to keep locks there`);
  }
  if (!exists(file)) {
    const made = join(dir, aside(basename(file)));
    closeSync(openSync(made, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o666));
    try {
      chmodSync(made, 0o666);
      linkSync(made, file);
    } catch (linkError) {
      if ((linkError as NodeJS.ErrnoException).code !== 'EEXIST') throw linkError;
    } finally {
      unlinkSync(made);
    }
  }
  const stat = lstatSync(file);
  if (!stat.isFile()) throw new Error(`${file} is not a regular file: refusing to open it`);
  try {
    accessSync(file, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new Error(
      `${file} (owner uid ${stat.uid}, mode ${(stat.mode & 0o777).toString(8)}) is not writable by this user: its owner can "chmod 666" it, or set DLOCK_SQLITE_PATH to another shared file`,
      { cause: error },
    );
  }
  // An existing file of ours with a narrower mode (made by hand, or an older dlock): widen it.
  if ((stat.mode & 0o666) !== 0o666 && stat.uid === process.geteuid?.()) {
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      fchmodSync(fd, (stat.mode & 0o777) | 0o666);
    } finally {
      closeSync(fd);
    }
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
