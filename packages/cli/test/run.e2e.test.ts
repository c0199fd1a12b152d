import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, FIXTURES, jsonLines, startDlock } from './dlock.js';

const SECTION = join(FIXTURES, 'critical-section.mjs');
const LONG = join(FIXTURES, 'long-running.mjs');

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-run-');
  // Never the user's real cache: both the explicit URL and the sqlite: default point here.
  env = {
    ...process.env,
    DLOCK_URL: `sqlite:${join(dir.path, 'locks.db')}`,
    DLOCK_SQLITE_PATH: join(dir.path, 'default.db'),
  };
});
afterAll(() => dir.remove());

describe('dlock run', () => {
  it('excludes 4 concurrent invocations, each section seeing its own increasing fencing token', async () => {
    writeFileSync(join(dir.path, 'counter'), '0');
    const perLane = 3;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < perLane; i++) {
          const result = await dlock(['run', 'shared', '--', process.execPath, SECTION, dir.path], {
            env,
          });
          expect(result.code, result.output).toBe(0);
        }
      }),
    );
    expect(existsSync(join(dir.path, 'overlaps'))).toBe(false);
    expect(readFileSync(join(dir.path, 'counter'), 'utf8')).toBe(String(4 * perLane));
    const lines = readFileSync(join(dir.path, 'tokens'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4 * perLane);
    const tokens = lines.map((line) => {
      const [key, token] = line.split(' ');
      expect(key).toBe('shared');
      return BigInt(token!);
    });
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  }, 60_000);

  it("exits with the command's code, and 128+N when the command dies of signal N", async () => {
    const seven = await dlock(['run', 'codes', '--', process.execPath, '-e', 'process.exit(7)'], {
      env,
    });
    expect(seven.code).toBe(7);
    const killed = await dlock(
      ['run', 'codes', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")'],
      { env },
    );
    expect(killed.code).toBe(128 + 9);
    const missing = await dlock(['run', 'codes', '--', 'dlock-no-such-command-xyz'], { env });
    expect(missing.code).toBe(127);
    expect(missing.output).toContain('command not found: dlock-no-such-command-xyz');
    // Every one of them released the lock.
    expect((await dlock(['status', 'codes'], { env })).code).toBe(1);
  }, 30_000);

  it('forwards SIGTERM to the command and releases the lock when it exits', async () => {
    const holder = await startDlock(['run', 'sigterm', '--', process.execPath, LONG], {
      env,
      readyWhen: /ready token=\d+/,
    });
    expect((await dlock(['status', 'sigterm'], { env })).code).toBe(0);
    const exit = await holder.stop('SIGTERM');
    expect(exit.code).toBe(42);
    expect(holder.output()).toContain('child got SIGTERM');
    expect((await dlock(['status', 'sigterm'], { env })).code).toBe(1);
  }, 30_000);

  it('terminates the command and exits 79 when the lock is force-released under it', async () => {
    // 1.5 s, not less: the guardian also ends the command on its own when renewal news is a
    // quarter of the TTL from running out, and a loaded machine must not get there first.
    const holder = await startDlock(
      ['run', 'lost', '--ttl', '1500ms', '--', process.execPath, LONG],
      { env, readyWhen: /ready token=\d+/ },
    );
    const released = await dlock(['release', 'lost', '--force'], { env });
    expect(released.code, released.output).toBe(0);
    expect(released.output).toContain('warning: force-releasing "lost"');
    // The watchdog notices at its next renewal (about ttl/3), then SIGTERMs the command.
    const exit = await holder.exited;
    expect(exit.code, holder.output()).toBe(79);
    expect(holder.output()).toContain('child got SIGTERM');
    expect(holder.output()).toMatch(/LOST the lock "lost" \(not-held\)/);
  }, 30_000);

  it('--on-lost kill SIGKILLs the command; --on-lost ignore lets it finish but still exits 79', async () => {
    const killed = await startDlock(
      ['run', 'lost-kill', '--ttl', '1500ms', '--on-lost', 'kill', '--', process.execPath, LONG],
      { env, readyWhen: /ready token=\d+/ },
    );
    await dlock(['release', 'lost-kill', '--force'], { env });
    expect((await killed.exited).code).toBe(79);
    expect(killed.output()).not.toContain('child got SIGTERM');

    const ignored = await startDlock(
      [
        'run',
        'lost-ignore',
        '--ttl',
        '600ms',
        '--on-lost',
        'ignore',
        '--',
        process.execPath,
        '-e',
        'console.log("ready"); setTimeout(() => console.log("finished anyway"), 1500)',
      ],
      { env, readyWhen: /ready/ },
    );
    await dlock(['release', 'lost-ignore', '--force'], { env });
    expect((await ignored.exited).code).toBe(79);
    expect(ignored.output()).toContain('finished anyway');
    expect(ignored.output()).toContain('the command keeps running');
  }, 30_000);

  it('exits 75 when the wait runs out, naming the holder (plain and --json)', async () => {
    const holder = await startDlock(['run', 'busy', '--', process.execPath, LONG], {
      env,
      readyWhen: /ready token=\d+/,
    });
    try {
      const plain = await dlock(['run', 'busy', '--wait', '200ms', '--', 'true'], { env });
      expect(plain.code).toBe(75);
      expect(plain.output).toMatch(
        new RegExp(`gave up waiting for "busy" after 200ms: held by [^ ]+:${holder.pid}:node`),
      );
      const json = await dlock(['run', 'busy', '--wait', '0', '--json', '--', 'true'], { env });
      expect(json.code).toBe(75);
      const timeout = jsonLines(json.output).find((e) => e.event === 'timeout');
      expect(timeout).toMatchObject({ key: 'busy', held: true, count: 1, waitMs: 0 });
      expect(String(timeout?.holder)).toContain(`:${holder.pid}:`);
      expect(BigInt(String(timeout?.fencingToken))).toBeGreaterThan(0n);
    } finally {
      await holder.stop('SIGTERM');
    }
  }, 30_000);

  it('waits for a busy lock and runs once it is released', async () => {
    const holder = await startDlock(['run', 'queue', '--', process.execPath, LONG], {
      env,
      readyWhen: /ready token=(\d+)/,
    });
    const first = BigInt(/ready token=(\d+)/.exec(holder.output())![1]!);
    const waiter = await startDlock(
      ['run', 'queue', '--wait', '20s', '--json', '--', process.execPath, LONG],
      { env, readyWhen: /"event":"waiting"/ },
    );
    await holder.stop('SIGTERM');
    await waitUntil(() => /ready token=\d+/.test(waiter.output()), { timeoutMs: 15_000 });
    const second = BigInt(/ready token=(\d+)/.exec(waiter.output())![1]!);
    expect(second).toBeGreaterThan(first);
    expect((await waiter.stop('SIGTERM')).code).toBe(42);
  }, 30_000);
});
