import { join } from 'node:path';
import {
  type ManagedProcess,
  makeTempDir,
  probeTcp,
  requireRedis,
  requireService,
  SHARED_REDIS_URL,
  uniquePrefix,
} from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, FIXTURES, jsonLines, startDlock } from './dlock.js';

const LONG = join(FIXTURES, 'long-running.mjs');

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-ls-');
  env = { ...process.env, DLOCK_SQLITE_PATH: join(dir.path, 'default.db') };
  delete env.DLOCK_URL;
});
afterAll(() => dir.remove());

/** `dlock run KEY -- node long-running.mjs`, resolved once the command runs under the lock. */
function hold(key: string, extra: readonly string[] = []): Promise<ManagedProcess> {
  return startDlock(['run', key, ...extra, '--', process.execPath, LONG], {
    env,
    readyWhen: /ready token=\d+/,
  });
}

describe('dlock ls on the embedded default', () => {
  it('lists holders under a plain-text prefix as a table and as JSON', async () => {
    const holders = await Promise.all([hold('ls:a*b'), hold('ls:ab'), hold('other')]);
    try {
      const json = await dlock(['ls', 'ls:a*', '--json'], { env });
      expect(json.code, json.output).toBe(0);
      const [doc] = jsonLines(json.stdout.join('\n'));
      expect(doc).toMatchObject({ prefix: 'ls:a*', truncated: false });
      const locks = doc!.locks as Array<Record<string, unknown>>;
      expect(locks.map((l) => l.key)).toEqual(['ls:a*b']);
      expect(String(locks[0]!.holder)).toContain(`:${holders[0]!.pid}:node`);
      expect(locks[0]).toMatchObject({ count: 1, waiters: null });
      expect(Number(locks[0]!.expiresInMs)).toBeGreaterThan(0);
      expect(String(locks[0]!.fencingToken)).toMatch(/^\d+$/);

      const plain = await dlock(['ls', 'ls:'], { env });
      expect(plain.code).toBe(0);
      expect(plain.stdout[0]).toMatch(/^KEY\s+HOLDER\s+FENCING TOKEN\s+EXPIRES IN\s+WAITERS$/);
      expect(
        plain.stdout
          .slice(1)
          .filter(Boolean)
          .map((l) => l.split(/\s+/)[0]),
      ).toEqual(['ls:a*b', 'ls:ab']);

      const all = await dlock(['ls', '--json', '--limit', '2'], { env });
      expect(jsonLines(all.stdout.join('\n'))[0]).toMatchObject({ truncated: true });
    } finally {
      await Promise.all(holders.map((h) => h.stop('SIGTERM')));
    }
    const none = await dlock(['ls', 'ls:'], { env });
    expect(none.code).toBe(1);
    expect(none.stdout[0]).toBe('no locks held under "ls:"');
  }, 60_000);

  it('--watch redraws until Ctrl-C, as plain frames into a pipe', async () => {
    const holder = await hold('watched');
    const watcher = await startDlock(['ls', 'watch', '--watch', '--interval', '200ms'], { env });
    try {
      await watcher.waitForOutput(/watched[\s\S]*watched/, 20_000);
    } finally {
      await holder.stop('SIGTERM');
    }
    await watcher.waitForOutput(/no locks held under "watch"/, 20_000);
    const { code } = await watcher.stop('SIGINT');
    expect(code).toBe(0);
    expect(watcher.output()).toContain('(Ctrl-C to stop)');
    expect(watcher.output()).not.toContain('\x1b[');
  }, 60_000);

  it('refuses bad usage with exit code 64', async () => {
    expect((await dlock(['ls', 'a', 'b'], { env })).code).toBe(64);
    expect((await dlock(['ls', '--limit', '0'], { env })).code).toBe(64);
    expect((await dlock(['ls', '--interval', '1s'], { env })).code).toBe(64);
    expect((await dlock(['ls', '--watch', '--interval', '10ms'], { env })).code).toBe(64);
    const help = await dlock(['ls', '--help'], { env });
    expect(help.stdout[0]).toContain('Usage: dlock ls');
  }, 30_000);
});

const redis = await requireRedis();
const etcd = await requireService('etcd 127.0.0.1:2379', () => probeTcp('127.0.0.1', 2379));

const servers = [
  { name: 'redis', available: redis.available, url: () => `${SHARED_REDIS_URL}?prefix=${prefix}` },
  {
    name: 'etcd',
    available: etcd.available,
    url: () => `etcd://127.0.0.1:2379?prefix=${encodeURIComponent(prefix.replace(/:$/, '/'))}`,
  },
];
const prefix = uniquePrefix('cli-ls');

for (const server of servers) {
  describe.skipIf(!server.available)(`dlock ls --url ${server.name}`, () => {
    it('lists a holder that dlock run holds there', async () => {
      const url = server.url();
      const holder = await hold('svc:job*1', ['--url', url]);
      try {
        const json = await dlock(['ls', 'svc:job*', '--url', url, '--json'], { env });
        expect(json.code, json.output).toBe(0);
        const locks = jsonLines(json.stdout.join('\n'))[0]!.locks as Array<Record<string, unknown>>;
        expect(locks).toHaveLength(1);
        expect(locks[0]).toMatchObject({ key: 'svc:job*1', count: 1 });
        expect(String(locks[0]!.holder)).toContain(`:${holder.pid}:node`);
        if (server.name === 'etcd') expect(locks[0]!.waiters).toBe(0);
      } finally {
        await holder.stop('SIGTERM');
      }
      expect((await dlock(['ls', 'svc:', '--url', url], { env })).code).toBe(1);
    }, 60_000);
  });
}
