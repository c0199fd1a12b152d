import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeTempDir, requireService, uniqueName } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDatabasePath, sqliteBackend } from '../src/index.js';
import { prepareSharedFile } from '../src/shared-file.js';
import { openRaw } from './helpers/driver.js';

// The default `sqlite:` file is one per host, not one per user: a root cron job and a service
// account running the same job must exclude each other through it.

const CONTENDER = fileURLToPath(new URL('./fixtures/default-path-contender.ts', import.meta.url));
const posix = process.platform !== 'win32';

const mode = (path: string) => statSync(path).mode & 0o7777;

let dir: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  dir = await makeTempDir('dlock-sqlite-shared-');
});
afterAll(() => dir.remove());

describe.skipIf(!posix)('the shared default file', () => {
  it('is made world-readable and -writable whatever the umask, and so are its WAL files', () => {
    const file = join(dir.path, 'dlock', 'locks.db');
    const previous = process.umask(0o077);
    try {
      prepareSharedFile(file);
      prepareSharedFile(file); // a second process finds both in place
      const db = openRaw(file);
      db.exec('CREATE TABLE t (a)');
      expect(mode(join(dir.path, 'dlock'))).toBe(0o777);
      expect(mode(file)).toBe(0o666);
      expect(mode(`${file}-wal`)).toBe(0o666);
      expect(mode(`${file}-shm`)).toBe(0o666);
      db.close();
    } finally {
      process.umask(previous);
    }
  });

  it('refuses a symbolic link in place of the folder or the file', () => {
    mkdirSync(join(dir.path, 'real'));
    symlinkSync(join(dir.path, 'real'), join(dir.path, 'linked-dir'));
    expect(() => prepareSharedFile(join(dir.path, 'linked-dir', 'locks.db'))).toThrow(
      /is not a directory/,
    );
    writeFileSync(join(dir.path, 'real', 'target'), '');
    symlinkSync(join(dir.path, 'real', 'target'), join(dir.path, 'real', 'locks.db'));
    expect(() => prepareSharedFile(join(dir.path, 'real', 'locks.db'))).toThrow(
      /is not a regular file/,
    );
  });
});

const root = await requireService('root (to run a second user against the default file)', () => {
  if (!posix) return Promise.resolve();
  const uid = process.getuid?.();
  return uid === 0
    ? Promise.resolve()
    : Promise.reject(
        new Error(`running as uid ${uid}, and only root can start a process as nobody`),
      );
});

/** A contender process running as `nobody`, driven line by line. */
function startContender(): { ask(line: string): Promise<string>; child: ChildProcess } {
  const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }));
  // A clone inside a 0700 directory (mktemp -d) keeps nobody out of the contender's own file:
  // say so, instead of the contender's bare exit.
  try {
    execFileSync(
      process.execPath,
      ['-e', 'require("node:fs").accessSync(process.argv[1])', CONTENDER],
      {
        uid,
        gid,
        stdio: 'ignore',
      },
    );
  } catch {
    throw new Error(
      `user nobody cannot read ${CONTENDER}: a directory above it is closed to other users (a clone in a 0700 directory such as mktemp -d's); clone into a directory others may enter`,
    );
  }
  const env = { ...process.env };
  delete env.DLOCK_SQLITE_PATH; // the default file, as a job with no configuration gets it
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CONTENDER], {
    uid,
    gid,
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the contender did not answer in 15 s')), 15_000);
    });
    try {
      const line = await Promise.race([lines.next(), timeout]);
      if (line.done) throw new Error('the contender exited');
      return line.value;
    } finally {
      clearTimeout(timer);
    }
  };
  const ready = next();
  return {
    child,
    async ask(line) {
      await ready;
      child.stdin!.write(`${line}\n`);
      return next();
    },
  };
}

describe.skipIf(!posix || !root.available)('the default file with two users', () => {
  it('root and nobody exclude each other through sqlite: with no path', async () => {
    const defaultPath = defaultDatabasePath({});
    expect(defaultPath).toBe('/var/tmp/dlock/locks.db');
    const mine = sqliteBackend({ path: defaultPath });
    const contender = startContender();
    const exited = new Promise((resolve) => contender.child.once('exit', resolve));
    const key = uniqueName('two-users');
    try {
      const held = await mine.tryAcquire({ key, owner: 'root', ttlMs: 60_000 });
      expect(held.acquired).toBe(true);
      expect(await contender.ask(`try ${key}`)).toBe('busy');
      expect(await mine.release({ key, owner: 'root' })).toBe('released');

      const theirs = await contender.ask(`try ${key}`);
      expect(theirs).toMatch(/^acquired \d+$/);
      // nobody wrote to the file: its token follows root's
      expect(BigInt(theirs.split(' ')[1]!)).toBeGreaterThan(held.acquired ? held.fencingToken : 0n);
      expect((await mine.tryAcquire({ key, owner: 'root', ttlMs: 60_000 })).acquired).toBe(false);
      expect(await contender.ask(`release ${key}`)).toBe('released released');
    } finally {
      contender.child.stdin!.end();
      await exited;
      await mine.close();
    }
    expect(mode('/var/tmp/dlock')).toBe(0o777);
    expect(mode(defaultPath)).toBe(0o666);
    for (const side of ['-wal', '-shm']) {
      if (existsSync(defaultPath + side)) expect(mode(defaultPath + side)).toBe(0o666);
    }
  }, 30_000);

  it('names the owner and mode when the shared file is not writable by this user', async () => {
    // A file another user made narrow by hand: the error says whose it is and what to do.
    chmodSync(dir.path, 0o755); // let nobody in
    const file = join(dir.path, 'narrow', 'locks.db');
    mkdirSync(join(dir.path, 'narrow'));
    chmodSync(join(dir.path, 'narrow'), 0o777);
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    expect(await prepareAsNobody(file)).toMatch(
      /\(owner uid 0, mode 644\) is not writable by this user: its owner can "chmod 666" it/,
    );
  }, 30_000);
});

/** Runs prepareSharedFile(file) as nobody and returns the error message it printed. */
async function prepareAsNobody(file: string): Promise<string> {
  const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }));
  const script = `import { prepareSharedFile } from ${JSON.stringify(new URL('../src/shared-file.ts', import.meta.url).href)};
try { prepareSharedFile(${JSON.stringify(file)}); console.log('no error'); } catch (e) { console.log(e.message); }`;
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script],
    { uid, gid, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await new Promise((resolve) => child.once('close', resolve));
  return out.trim();
}
