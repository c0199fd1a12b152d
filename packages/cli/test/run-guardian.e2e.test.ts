import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, dlock, exists, FIXTURES, jsonLines, startDlock } from './dlock.js';

// dlock run must not leave its command running once it can no longer hold the lock: killed
// (SIGKILL), frozen (SIGSTOP) past the TTL, or with its guardian killed. Each test then starts a
// second `dlock run` of the key, whose command records whether the first command still exists at
// the moment it starts.

const STUBBORN = join(FIXTURES, 'stubborn.mjs');
const CHECK_GONE = join(FIXTURES, 'check-gone.mjs');

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-guardian-');
  env = {
    ...process.env,
    DLOCK_URL: `sqlite:${join(dir.path, 'locks.db')}`,
    DLOCK_SQLITE_PATH: join(dir.path, 'default.db'),
  };
});
afterAll(() => dir.remove());

/** Starts `dlock run KEY --ttl 2s -- stubborn` and reads the pids the command wrote. */
async function startHolder(key: string, extra: readonly string[] = []) {
  const pidFile = join(dir.path, `${key}.pid`);
  const holder = await startDlock(
    ['run', key, '--ttl', '2s', ...extra, '--', process.execPath, STUBBORN, pidFile],
    { env, readyWhen: /ready token=\d+/ },
  );
  const [pid, guardianPid] = readFileSync(pidFile, 'utf8').split(' ').map(Number) as [
    number,
    number,
  ];
  return { holder, pid, guardianPid, pidFile };
}

/** The second `dlock run` of `key`, waiting for the lock; resolves with what its command saw. */
async function secondRun(key: string, pidFile: string) {
  const seen = join(dir.path, `${key}.seen.json`);
  const result = await dlock(
    ['run', key, '--wait', '20s', '--', process.execPath, CHECK_GONE, pidFile, seen],
    { env },
  );
  expect(result.code, result.output).toBe(0);
  return JSON.parse(readFileSync(seen, 'utf8')) as { pid: number; state: string; at: number };
}

describe.skipIf(process.platform === 'win32')(
  'dlock run: the command never outlives the lock',
  () => {
    it('SIGKILL of dlock: the guardian ends the command before a second run gets the lock', async () => {
      const { holder, pid, guardianPid, pidFile } = await startHolder('killed');
      expect(guardianPid).not.toBe(holder.pid); // the command runs under the guardian
      const killedAt = Date.now();
      holder.child.kill('SIGKILL');
      const second = secondRun('killed', pidFile);
      await waitUntil(() => !exists(pid), { timeoutMs: 5_000, intervalMs: 5, message: 'gone' });
      const goneAt = Date.now();
      const seen = await second;
      expect(seen).toMatchObject({ pid, state: 'ESRCH' });
      expect((await holder.exited).signal).toBe('SIGKILL');
      // SIGTERM first (ignored by this command), then SIGKILL from the guardian.
      expect(holder.output()).toContain(`dlock (pid ${holder.pid}) is gone while holding "killed"`);
      expect(holder.output()).toContain('child ignored SIGTERM');
      expect(exists(guardianPid)).toBe(false);
      console.log(
        `[measure] SIGKILL of dlock: command gone after ${goneAt - killedAt} ms, second run's command started after ${seen.at - killedAt} ms (ttl 2s)`,
      );
    }, 30_000);

    it('SIGSTOP of dlock past its TTL: the guardian ends the command before the lease runs out', async () => {
      const { holder, pid, pidFile } = await startHolder('frozen', ['--json']);
      process.kill(holder.pid, 'SIGSTOP');
      const stoppedAt = Date.now();
      try {
        // Stopped, dlock renews nothing more: this is the lease's end as the backend has it.
        const status = await dlock(['status', 'frozen', '--json'], { env });
        const leaseEnd = Date.parse(
          (JSON.parse(status.stdout[0]!) as { expiresAt: string }).expiresAt,
        );
        const second = secondRun('frozen', pidFile);
        await waitUntil(() => !exists(pid), { timeoutMs: 5_000, intervalMs: 5, message: 'gone' });
        const goneAt = Date.now();
        const seen = await second;
        expect(seen).toMatchObject({ pid, state: 'ESRCH' });
        expect(seen.at).toBeGreaterThanOrEqual(leaseEnd);
        console.log(
          `[measure] SIGSTOP of dlock: command gone after ${goneAt - stoppedAt} ms (${leaseEnd - goneAt} ms before the lease's end), second run's command started after ${seen.at - stoppedAt} ms (ttl 2s)`,
        );
      } finally {
        process.kill(holder.pid, 'SIGCONT');
      }
      // Resumed, dlock finds the command ended under it and exits 79.
      expect((await holder.exited).code).toBe(79);
      const events = jsonLines(holder.output());
      expect(events).toContainEqual(
        expect.objectContaining({ event: 'guardian', reason: 'lease-running-out', key: 'frozen' }),
      );
      expect(events).toContainEqual(
        expect.objectContaining({ event: 'lost', key: 'frozen', reason: 'not-renewed' }),
      );
      expect(holder.output()).toContain('child ignored SIGTERM');
    }, 30_000);

    it('--on-lost kill: SIGKILL of dlock kills the command at once, without SIGTERM', async () => {
      const { holder, pid, pidFile } = await startHolder('killed-kill', ['--on-lost', 'kill']);
      holder.child.kill('SIGKILL');
      const seen = await secondRun('killed-kill', pidFile);
      expect(seen).toMatchObject({ pid, state: 'ESRCH' });
      await holder.exited;
      expect(holder.output()).not.toContain('child ignored SIGTERM');
    }, 30_000);

    it('SIGKILL of the guardian: dlock kills the command group itself and exits 79', async () => {
      const { holder, pid, guardianPid } = await startHolder('guardian-killed');
      process.kill(guardianPid, 'SIGKILL');
      expect((await holder.exited).code).toBe(79);
      expect(holder.output()).toContain('the guardian of the command died (SIGKILL)');
      expect(exists(pid)).toBe(false);
      // It released the lock after the command was gone.
      expect((await dlock(['status', 'guardian-killed'], { env })).code).toBe(1);
    }, 30_000);

    it('renewal news keeps the command running for several TTLs', async () => {
      // Without it the guardian would end the command 750 ms after the grant.
      const result = await dlock(
        [
          'run',
          'renewed',
          '--ttl',
          '1s',
          '--',
          process.execPath,
          '-e',
          'setTimeout(() => console.log("done"), 3000)',
        ],
        { env },
      );
      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain('done');
      expect(result.output).not.toContain('no renewal of');
    }, 30_000);

    it('passes stdin through the guardian to the command', () => {
      const result = spawnSync(process.execPath, [BIN, 'run', 'stdin', '--', 'cat'], {
        env,
        input: 'through the guardian\n',
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toBe('through the guardian\n');
    });
  },
);
