import { join } from 'node:path';
import { makeTempDir, probeTcp, requireRedis, requireService, uniqueName } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, FIXTURES, jsonLines, startDlock } from './dlock.js';

const LONG = join(FIXTURES, 'long-running.mjs');
const redis = await requireRedis();
const etcd = await requireService('etcd 127.0.0.1:2379', () => probeTcp('127.0.0.1', 2379));

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-cmd-');
  env = { ...process.env, DLOCK_SQLITE_PATH: join(dir.path, 'default.db') };
  delete env.DLOCK_URL;
});
afterAll(() => dir.remove());

describe('dlock status and release --force', () => {
  it('reports a holder and a free key as JSON, on the embedded default when no URL is given', async () => {
    const holder = await startDlock(['run', 'st', '--', process.execPath, LONG], {
      env,
      readyWhen: /ready token=\d+/,
    });
    try {
      const held = await dlock(['status', 'st', '--json'], { env });
      expect(held.code).toBe(0);
      const [state] = jsonLines(held.stdout.join('\n'));
      expect(state).toMatchObject({ key: 'st', held: true, count: 1 });
      expect(String(state?.holder)).toContain(`:${holder.pid}:node`);
      expect(Number(state?.expiresInMs)).toBeGreaterThan(0);
      const plain = await dlock(['status', 'st'], { env });
      expect(plain.stdout[0]).toMatch(/^st: held by .+ \(fencing token \d+, lease ends in/);
    } finally {
      await holder.stop('SIGTERM');
    }
    const free = await dlock(['status', 'st', '--json'], { env });
    expect(free.code).toBe(1);
    expect(jsonLines(free.stdout.join('\n'))).toEqual([{ key: 'st', held: false }]);
  }, 30_000);

  it('refuses release without --force, and reports a release of a free key', async () => {
    const refused = await dlock(['release', 'nothing'], { env });
    expect(refused.code).toBe(64);
    expect(refused.output).toContain('add --force');
    const free = await dlock(['release', 'nothing', '--force', '--json'], { env });
    expect(free.code).toBe(1);
    expect(jsonLines(free.stdout.join('\n'))[0]).toMatchObject({ key: 'nothing', released: false });
  }, 30_000);
});

describe('dlock id', () => {
  it('prints snowflakes, uuid7 and uuid4, as lines or JSON', async () => {
    const snow = await dlock(['id', 'snowflake', '-n', '5', '--worker', '3', '--datacenter', '1'], {
      env,
    });
    expect(snow.code).toBe(0);
    const ids = snow.stdout.filter(Boolean).map(BigInt);
    expect(ids).toHaveLength(5);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect((ids[0]! >> 12n) & 31n).toBe(3n);
    expect((ids[0]! >> 17n) & 31n).toBe(1n);

    const v7 = await dlock(['id', 'uuid7', '-n', '3', '--json'], { env });
    const parsed = JSON.parse(v7.stdout[0]!) as { kind: string; ids: string[] };
    expect(parsed.kind).toBe('uuid7');
    expect(parsed.ids).toHaveLength(3);
    for (const id of parsed.ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab]/);
    expect([...parsed.ids].sort()).toEqual(parsed.ids);

    const v4 = await dlock(['id', 'uuid4'], { env });
    expect(v4.stdout[0]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );

    expect((await dlock(['id', 'snowflake', '--worker', '32'], { env })).code).toBe(64);
    expect((await dlock(['id', 'uuid9'], { env })).code).toBe(64);
  }, 30_000);
});

describe('errors in plain words', () => {
  it('reaches Redis and etcd from a directory where no adapter resolves: the CLI ships them', async (ctx) => {
    if (!redis.available || !etcd.available) return ctx.skip();
    // pnpm's bin shims set NODE_PATH to its hoisted store, where sibling adapters can be found.
    const { NODE_PATH: _, ...plain } = env;
    for (const url of ['redis://127.0.0.1:6379', 'etcd://127.0.0.1:2379']) {
      const key = uniqueName('cli-ships');
      const result = await dlock(['run', key, '--url', url, '--', process.execPath, '-e', ''], {
        env: plain,
        cwd: dir.path,
      });
      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain(`acquired "${key}"`);
    }
  });

  it('explains a bad URL, an unknown scheme, bad options and unknown commands', async () => {
    const bad = await dlock(['status', 'k', '--url', 'not a url'], { env });
    expect(bad.code).toBe(64);
    expect(bad.output).toContain('is not a lock URL');
    const scheme = await dlock(['status', 'k', '--url', 'ftp://x'], { env });
    expect(scheme.code).toBe(64);
    expect(scheme.output).toContain('Unsupported lock URL scheme "ftp:"');
    const option = await dlock(['run', 'k', '--tll', '3s', '--', 'true'], { env });
    expect(option.code).toBe(64);
    expect(option.output).toContain('dlock: dlock run has no option --tll; it takes --url VALUE,');
    expect(option.output).not.toContain('Unknown option');
    expect((await dlock(['frobnicate'], { env })).code).toBe(64);
  });

  it('reports an unusable backend with exit code 69', async () => {
    // A folder where the database file should be: SQLite cannot open it.
    const result = await dlock(['status', 'k', '--url', `sqlite:${dir.path}`], { env });
    expect(result.code).toBe(69);
    expect(result.output).toContain('cannot use the lock backend');
  });

  it('prints help for every command', async () => {
    for (const command of ['run', 'status', 'release', 'id', 'demo']) {
      const help = await dlock([command, '--help'], { env });
      expect(help.code).toBe(0);
      expect(help.stdout[0]).toContain(`Usage: dlock ${command}`);
    }
    const top = await dlock(['--help'], { env });
    expect(top.code).toBe(0);
    expect(top.output).toContain('run KEY -- CMD ARGS...');
  }, 30_000);
});
