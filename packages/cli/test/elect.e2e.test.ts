import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, exists, FIXTURES, jsonLines, startDlock } from './dlock.js';

// dlock elect and dlock leader as users run them: separate processes on one SQLite file (the
// backend every host has). At most one COMMAND of an election runs at a time, also when its
// dlock is killed or frozen: each fault test starts a second candidate whose command records
// whether the first leader's command still exists at the moment it starts.

const STUBBORN = join(FIXTURES, 'stubborn.mjs');
const LONG = join(FIXTURES, 'long-running.mjs');
const CHECK_GONE = join(FIXTURES, 'check-gone.mjs');

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-elect-');
  env = {
    ...process.env,
    DLOCK_URL: `sqlite:${join(dir.path, 'elections.db')}`,
    DLOCK_SQLITE_PATH: join(dir.path, 'default.db'),
  };
});
afterAll(() => dir.remove());

/** `dlock leader NAME --json`, parsed. */
async function leaderOf(name: string) {
  const result = await dlock(['leader', name, '--json'], { env });
  return {
    code: result.code,
    info: JSON.parse(result.stdout[0]!) as Record<string, unknown>,
    output: result.output,
  };
}

/** `dlock elect NAME --ttl 2s -- stubborn` as the leader, and the pids its command wrote. */
async function startLeader(name: string, extra: readonly string[] = []) {
  const pidFile = join(dir.path, `${name}.pid`);
  const leader = await startDlock(
    ['elect', name, '--ttl', '2s', ...extra, '--', process.execPath, STUBBORN, pidFile],
    { env, readyWhen: /ready token=\d+/ },
  );
  const [pid] = readFileSync(pidFile, 'utf8').split(' ').map(Number) as [number];
  const term = BigInt(/ready token=(\d+)/.exec(leader.output())![1]!);
  return { leader, pid, pidFile, term };
}

/** A second candidate, campaigning; resolves with what its command saw and its term. */
async function nextLeader(name: string, pidFile: string) {
  const seen = join(dir.path, `${name}.seen.json`);
  const result = await dlock(
    ['elect', name, '--wait', '20s', '--json', '--', process.execPath, CHECK_GONE, pidFile, seen],
    { env },
  );
  expect(result.code, result.output).toBe(0);
  const elected = jsonLines(result.output).find((e) => e.event === 'elected');
  return {
    seen: JSON.parse(readFileSync(seen, 'utf8')) as { pid: number; state: string; at: number },
    term: BigInt(elected!.term as string),
  };
}

describe.skipIf(process.platform === 'win32')('dlock elect', () => {
  it("runs COMMAND as the leader with its term and value, exits with COMMAND's code and resigns", async () => {
    const print =
      'const e = process.env; console.log([e.DLOCK_ELECTION, e.DLOCK_TERM, e.DLOCK_FENCING_TOKEN, e.DLOCK_LEADER_VALUE].join(" ")); process.exit(3)';
    const first = await dlock(
      ['elect', 'jobs', '--value', 'web-1:8080', '--json', '--', process.execPath, '-e', print],
      { env },
    );
    expect(first.code, first.output).toBe(3);
    const events = jsonLines(first.output);
    const elected = events.find((e) => e.event === 'elected')!;
    expect(elected).toMatchObject({ name: 'jobs', value: 'web-1:8080' });
    const term = elected.term as string;
    expect(first.stdout).toContain(`jobs ${term} ${term} web-1:8080`);
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'resigned', key: 'jobs', exitCode: 3 }),
    );
    // Resigned: nobody leads, and the next leader's term is greater.
    const after = await leaderOf('jobs');
    expect(after.code, after.output).toBe(1);
    expect(after.info).toEqual({ name: 'jobs', leader: false });
    expect((await dlock(['leader', 'jobs'], { env })).stdout).toEqual(['jobs: no leader']);
    const second = await dlock(
      ['elect', 'jobs', '--', process.execPath, '-e', 'console.log(process.env.DLOCK_TERM)'],
      { env },
    );
    expect(second.code, second.output).toBe(0);
    expect(BigInt(second.stdout.at(-1)!) > BigInt(term)).toBe(true);
  }, 30_000);

  it('dlock leader shows the leader; a candidate with --wait 0 gives up with 75 and names it', async () => {
    const leader = await startDlock(
      ['elect', 'shown', '--value', 'web-2', '--', process.execPath, LONG],
      { env, readyWhen: /ready token=\d+/ },
    );
    try {
      const term = /ready token=(\d+)/.exec(leader.output())![1]!;
      const shown = await leaderOf('shown');
      expect(shown.code, shown.output).toBe(0);
      expect(shown.info).toMatchObject({ name: 'shown', leader: true, value: 'web-2', term });
      expect(shown.info.holder).toMatch(new RegExp(`:${leader.pid}:`));
      const human = await dlock(['leader', 'shown'], { env });
      expect(human.stdout[0]).toMatch(
        new RegExp(
          `^shown: led by web-2 \\(term ${term}, holder .*:${leader.pid}:.*, lease ends in `,
        ),
      );

      const refused = await dlock(
        [
          'elect',
          'shown',
          '--wait',
          '0',
          '--json',
          '--',
          process.execPath,
          '-e',
          'process.exit(9)',
        ],
        { env },
      );
      expect(refused.code, refused.output).toBe(75);
      expect(jsonLines(refused.output)).toContainEqual(
        expect.objectContaining({ event: 'timeout', name: 'shown', value: 'web-2', term }),
      );
      // A signal to dlock reaches COMMAND (exit 42 on SIGTERM), and dlock then resigns.
      const exit = await leader.stop('SIGTERM', 10_000);
      expect(exit.code, leader.output()).toBe(42);
      expect(leader.output()).toContain('child got SIGTERM');
      expect((await leaderOf('shown')).code).toBe(1);
    } finally {
      await leader.kill();
    }
  }, 30_000);

  it('a signal while campaigning ends the campaign (128+N) and leaves no candidate behind', async () => {
    const leader = await startDlock(['elect', 'queued', '--', process.execPath, LONG], {
      env,
      readyWhen: /ready token=\d+/,
    });
    try {
      const candidate = await startDlock(
        ['elect', 'queued', '--json', '--', process.execPath, '-e', 'process.exit(5)'],
        { env, readyWhen: /"event":"campaigning"/ },
      );
      expect((await candidate.stop('SIGINT', 10_000)).code, candidate.output()).toBe(128 + 2);
      expect(candidate.output()).not.toContain('"elected"');
      expect((await leader.stop('SIGTERM', 10_000)).code).toBe(42);
      // Had the interrupted candidate stayed queued, it would be first in line now, and a
      // candidate that does not wait would be refused (75).
      const next = await dlock(
        ['elect', 'queued', '--wait', '0', '--', process.execPath, '-e', ''],
        {
          env,
        },
      );
      expect(next.code, next.output).toBe(0);
    } finally {
      await leader.kill();
    }
  }, 30_000);

  it('SIGKILL of dlock: its command is gone before the next leader starts, with a greater term', async () => {
    const { leader, pid, pidFile, term } = await startLeader('killed');
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    const next = nextLeader('killed', pidFile);
    await waitUntil(() => !exists(pid), { timeoutMs: 5_000, intervalMs: 5, message: 'gone' });
    const { seen, term: nextTerm } = await next;
    expect(seen).toMatchObject({ pid, state: 'ESRCH' });
    expect(nextTerm > term).toBe(true);
    expect((await leader.exited).signal).toBe('SIGKILL');
    expect(leader.output()).toContain(`dlock (pid ${leader.pid}) is gone while holding "killed"`);
    console.log(
      `[measure] SIGKILL of dlock elect: the next leader's command started after ${seen.at - killedAt} ms (ttl 2s)`,
    );
  }, 30_000);

  it('SIGSTOP of dlock past its TTL: its command is ended before the lease runs out, then exit 79', async () => {
    const { leader, pid, pidFile } = await startLeader('frozen', ['--json']);
    process.kill(leader.pid, 'SIGSTOP');
    try {
      // Stopped, dlock renews nothing more: this is the lease's end as the backend has it.
      const leaseEnd = Date.parse((await leaderOf('frozen')).info.expiresAt as string);
      const next = nextLeader('frozen', pidFile);
      await waitUntil(() => !exists(pid), { timeoutMs: 5_000, intervalMs: 5, message: 'gone' });
      const { seen } = await next;
      expect(seen).toMatchObject({ pid, state: 'ESRCH' });
      expect(seen.at).toBeGreaterThanOrEqual(leaseEnd);
    } finally {
      process.kill(leader.pid, 'SIGCONT');
    }
    expect((await leader.exited).code).toBe(79);
    const events = jsonLines(leader.output());
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'guardian', reason: 'lease-running-out', key: 'frozen' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'lost', key: 'frozen', reason: 'not-renewed' }),
    );
  }, 30_000);

  it('renewal news keeps the command running for several TTLs', async () => {
    // Without it the guardian would end the command 750 ms after the election.
    const result = await dlock(
      [
        'elect',
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
});

describe('dlock leader --watch', () => {
  it('prints the leader now and one line per change, never going back in term, until SIGINT', async () => {
    const watcher = await startDlock(['leader', 'watched', '--watch', '--json'], {
      env,
      readyWhen: /"leader":false/,
    });
    try {
      for (const value of ['a', 'b']) {
        const leader = await startDlock(
          ['elect', 'watched', '--value', value, '--', process.execPath, LONG],
          { env, readyWhen: /ready token=\d+/ },
        );
        try {
          await watcher.waitForOutput(new RegExp(`"value":"${value}"`), 20_000);
          // Its command ends (SIGTERM, forwarded): it resigns, and the watcher says so.
          expect((await leader.stop('SIGTERM', 10_000)).code, leader.output()).toBe(42);
          await watcher.waitForOutput(
            new RegExp(`"value":"${value}"[^\\n]*\\n[^\\n]*"leader":false`),
            20_000,
          );
        } finally {
          await leader.kill();
        }
      }
      const exit = await watcher.stop('SIGINT', 10_000);
      expect(exit.code, watcher.output()).toBe(0);
      const lines = watcher
        .stdoutLines()
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.map((l) => l.value ?? null)).toEqual([null, 'a', null, 'b', null]);
      const [a, b] = lines.filter((l) => l.leader).map((l) => BigInt(l.term as string));
      expect(b! > a!).toBe(true);
    } finally {
      await watcher.kill();
    }
  }, 60_000);
});
