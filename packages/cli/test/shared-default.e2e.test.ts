import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, requireService, uniqueName } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, dlock, FIXTURES, startDlock } from './dlock.js';

// `dlock run` with no --url, no DLOCK_URL and no DLOCK_SQLITE_PATH, as root and as nobody (each
// with a home of its own, as a cron job and a service account have): one lock, not two.

const LONG = join(FIXTURES, 'long-running.mjs');
const posix = process.platform !== 'win32';

const root = await requireService('root (to run dlock as a second user, nobody)', () => {
  const uid = process.getuid?.();
  return !posix || uid === 0
    ? Promise.resolve()
    : Promise.reject(
        new Error(`running as uid ${uid}, and only root can start a process as nobody`),
      );
});

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let rootEnv: NodeJS.ProcessEnv;
let nobodyEnv: NodeJS.ProcessEnv;
let nobody: { uid: number; gid: number };
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-shared-');
  const base = { ...process.env };
  delete base.DLOCK_URL;
  delete base.DLOCK_SQLITE_PATH;
  delete base.XDG_CACHE_HOME;
  rootEnv = { ...base, HOME: join(dir.path, 'root-home') };
  const nobodyHome = join(dir.path, 'nobody-home');
  mkdirSync(nobodyHome);
  chmodSync(dir.path, 0o755);
  chmodSync(nobodyHome, 0o777);
  nobodyEnv = { ...base, HOME: nobodyHome };
  if (posix && root.available) {
    nobody = {
      uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' })),
    };
  }
});
afterAll(() => dir.remove());

interface AsNobody {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `dlock ARGS…` as nobody; resolves once its output matches `readyWhen` (or it exited). */
async function dlockAsNobody(args: readonly string[], readyWhen?: RegExp): Promise<AsNobody> {
  const child = spawn(process.execPath, [BIN, ...args], {
    ...nobody,
    env: nobodyEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const seen = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of seen) check();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const run: AsNobody = { child, output: () => output, exited };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dlock ${args.join(' ')} as nobody: no ${readyWhen} in 20 s:\n${output}`));
    }, 20_000);
    const done = () => {
      clearTimeout(timer);
      seen.clear();
      resolve();
    };
    if (readyWhen) seen.add(() => readyWhen.test(output) && done());
    void exited.then(done);
  });
  return run;
}

describe.skipIf(!posix || !root.available)('dlock run on the default file, two users', () => {
  it('root and nobody exclude each other, both ways', async () => {
    const key = uniqueName('nightly');
    const rootHolder = await startDlock(['run', key, '--', process.execPath, LONG], {
      env: rootEnv,
      readyWhen: /ready token=\d+/,
    });
    try {
      const refused = await dlockAsNobody(['run', key, '--wait', '0', '--', 'true']);
      expect(await refused.exited, refused.output()).toBe(75);
      expect(refused.output()).toMatch(new RegExp(`held by [^ ]+:${rootHolder.pid}:node`));
    } finally {
      expect((await rootHolder.stop('SIGTERM')).code).toBe(42);
    }

    const nobodyHolder = await dlockAsNobody(
      ['run', key, '--', process.execPath, LONG],
      /ready token=\d+/,
    );
    try {
      expect(nobodyHolder.output()).toMatch(/ready token=\d+/);
      const refused = await dlock(['run', key, '--wait', '0', '--', 'true'], { env: rootEnv });
      expect(refused.code, refused.output).toBe(75);
      expect(refused.output).toMatch(new RegExp(`held by [^ ]+:${nobodyHolder.child.pid}:node`));
    } finally {
      nobodyHolder.child.kill('SIGTERM');
      expect(await nobodyHolder.exited).toBe(42);
    }
  }, 60_000);
});
