import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  makeTempDir,
  requireRedisBinaries,
  startRedisCluster,
  type TestRedisCluster,
  uniquePrefix,
} from '@dlock/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, FIXTURES } from './dlock.js';

const SECTION = join(FIXTURES, 'critical-section.mjs');
const PASSWORD = 'cluster-secret';
const binaries = await requireRedisBinaries();

describe.skipIf(!binaries.available)('dlock run on a redis+cluster: URL', () => {
  let cluster: TestRedisCluster;
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    assertBuilt();
    dir = await makeTempDir('dlock-cli-cluster-');
    cluster = await startRedisCluster();
    // The password only in DLOCK_PASSWORD: the CLI must carry it to every node as ?password=.
    for (const node of cluster.nodes) {
      const admin = new Redis(node);
      await admin.config('SET', 'requirepass', PASSWORD);
      await admin.quit().catch(() => admin.disconnect());
    }
    const seeds = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    env = {
      ...process.env,
      DLOCK_URL: `redis+cluster:${seeds}?prefix=${encodeURIComponent(uniquePrefix('cli-cluster'))}`,
      DLOCK_PASSWORD: PASSWORD,
      DLOCK_SQLITE_PATH: join(dir.path, 'default.db'),
    };
  }, 60_000);

  afterAll(async () => {
    await cluster?.dispose();
    await dir?.remove();
  });

  it('excludes concurrent invocations, with increasing fencing tokens', async () => {
    writeFileSync(join(dir.path, 'counter'), '0');
    const perLane = 2;
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let i = 0; i < perLane; i++) {
          const result = await dlock(['run', 'shared', '--', process.execPath, SECTION, dir.path], {
            env,
          });
          expect(result.code, result.output).toBe(0);
        }
      }),
    );
    expect(existsSync(join(dir.path, 'overlaps'))).toBe(false);
    expect(readFileSync(join(dir.path, 'counter'), 'utf8')).toBe(String(3 * perLane));
    const tokens = readFileSync(join(dir.path, 'tokens'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => BigInt(line.split(' ')[1]!));
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  }, 60_000);

  it('without the password the backend refuses, and dlock says so rather than running', async () => {
    const { DLOCK_PASSWORD: _, ...noPassword } = env;
    const result = await dlock(['run', 'shared', '--', process.execPath, '-e', 'process.exit(0)'], {
      env: noPassword,
    });
    expect(result.code, result.output).not.toBe(0);
    expect(result.code, result.output).toBe(69); // the backend is unavailable to us
    expect(result.output).toMatch(/cannot use the lock backend/);
    expect(result.output).not.toContain(PASSWORD);
  }, 30_000);

  it('a wrong password in the URL is refused and never printed', async () => {
    const result = await dlock(['run', 'shared', '--', process.execPath, '-e', ''], {
      env: { ...env, DLOCK_URL: `${env.DLOCK_URL}&password=wrong-secret-123` },
    });
    expect(result.code, result.output).not.toBe(0);
    expect(result.code, result.output).toBe(69);
    expect(result.output).toContain('password=***');
    expect(result.output).not.toContain('wrong-secret-123');
  }, 30_000);

  it('a bad node list is a usage error before any I/O', async () => {
    const result = await dlock(['run', 'k', '--', process.execPath, '-e', ''], {
      env: { ...env, DLOCK_URL: 'redis+cluster:127.0.0.1:1,127.0.0.1:1' },
    });
    expect(result.code, result.output).not.toBe(0);
    expect(result.output).toMatch(/listed twice/);
  });
});
