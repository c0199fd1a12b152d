import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, requireRedis, uniqueName, waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dlock, FIXTURES, jsonLines, startDlock } from './dlock.js';

// `dlock run --limit / --read / --write` and `dlock status --limit / --rw` as users run them:
// real dlock processes against the embedded SQLite default's backend and against Redis.

const GATE = join(FIXTURES, 'gate.mjs');
const LONG = join(FIXTURES, 'long-running.mjs');
const redis = await requireRedis();

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  assertBuilt();
  dir = await makeTempDir('dlock-cli-shared-');
  // Never the user's real default file: the explicit URL and the sqlite: default point here.
  env = {
    ...process.env,
    DLOCK_URL: `sqlite:${join(dir.path, 'locks.db')}`,
    DLOCK_SQLITE_PATH: join(dir.path, 'default.db'),
  };
});
afterAll(() => dir.remove());

/** How many commands held at once over a rendezvous history, at most, and every start's fields. */
function readHistory(path: string) {
  let running = 0;
  let most = 0;
  const starts: { id: string; token: bigint; permits: string }[] = [];
  let ends = 0;
  for (const line of readFileSync(path, 'utf8').trim().split('\n')) {
    const [event, id, token, permits] = line.split(' ');
    if (event === 'start') {
      running++;
      starts.push({ id: id!, token: BigInt(token!), permits: permits! });
    } else {
      running--;
      ends++;
    }
    most = Math.max(most, running);
  }
  return { most, starts, ends };
}

/** The number of COMMANDs that started so far, by the history. */
function started(history: string): number {
  return readFileSync(history, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('start ')).length;
}

type Dlock = Awaited<ReturnType<typeof startDlock>>;

/** Starts `count` `dlock run KEY OPTIONS -- gate.mjs`: each COMMAND holds until the gate opens. */
async function gated(
  name: string,
  count: number,
  args: readonly string[],
): Promise<{ history: string; gate: string; runs: Dlock[] }> {
  const history = join(dir.path, `${name}.history`);
  const gate = join(dir.path, `${name}.gate`);
  writeFileSync(history, '');
  const runs = await Promise.all(
    Array.from({ length: count }, () =>
      startDlock([...args, '--json', '--', process.execPath, GATE, history, gate], { env }),
    ),
  );
  return { history, gate, runs };
}

/** `waitUntil(check)`, failing at once with its output if one of `runs` exits before the gate. */
function untilOrExit(runs: readonly Dlock[], check: () => boolean, what: string): Promise<unknown> {
  return Promise.race([
    waitUntil(check, { timeoutMs: 30_000, message: what }),
    ...runs.map(async (run) => {
      const exit = await run.exited;
      throw new Error(`a dlock exited (${exit.code}) before ${what}: ${run.output()}`);
    }),
  ]);
}

/**
 * 4 `dlock run KEY --limit 2` at once, each COMMAND holding until the test opens the gate: 2
 * COMMANDs start while the other 2 dlocks report that they wait (a third permit would let a
 * third start, and a semaphore of 1 would never start a second); then all 4 run, never more
 * than 2 at once by the history.
 */
async function fourUnderLimitTwo(url: string, key: string): Promise<void> {
  const { history, gate, runs } = await gated(key.replaceAll(':', '_'), 4, [
    'run',
    key,
    '--url',
    url,
    '--limit',
    '2',
  ]);
  try {
    const waiting = () => runs.filter((run) => /"event":"waiting"/.test(run.output())).length;
    await untilOrExit(
      runs,
      () => started(history) === 2 && waiting() === 2,
      '2 started, 2 waiting',
    );
    expect(started(history)).toBe(2);
    writeFileSync(gate, '');
    for (const run of runs) expect((await run.exited).code, run.output()).toBe(0);
  } finally {
    for (const run of runs) await run.stop('SIGTERM');
  }
  const { most, starts, ends } = readHistory(history);
  expect(starts).toHaveLength(4);
  expect(ends).toBe(4);
  expect(most).toBe(2);
  for (const start of starts) expect(start.permits).toBe('1');
  // Every permit grant takes a fencing token of its own.
  expect(new Set(starts.map((s) => s.token)).size).toBe(4);
  for (const run of runs) {
    expect(jsonLines(run.output()).find((e) => e.event === 'acquired')).toMatchObject({
      key,
      mode: 'semaphore',
      limit: 2,
      permits: 1,
    });
  }
}

describe('dlock run --limit (semaphore) on SQLite', () => {
  it('runs 4 commands under --limit 2: never more than 2 at once, and 2 at once', async () => {
    await fourUnderLimitTwo(env.DLOCK_URL!, 'sem-four');
  }, 90_000);

  it('shows the holders with status --limit, refuses a full semaphore after --wait and another limit with 64', async () => {
    const holder = await startDlock(
      ['run', 'sem-status', '--limit', '3', '--permits', '2', '--', process.execPath, LONG],
      { env, readyWhen: /ready token=\d+/ },
    );
    try {
      const token = /ready token=(\d+)/.exec(holder.output())![1]!;
      const plain = await dlock(['status', 'sem-status', '--limit', '3'], { env });
      expect(plain.code, plain.output).toBe(0);
      expect(plain.stdout[0]).toBe('sem-status: semaphore of limit 3, 1 available, 1 holder');
      expect(plain.stdout[1]).toMatch(
        new RegExp(
          `^ {2}[^ ]+:${holder.pid}:node \\(2 permits, fencing token ${token}, lease ends in `,
        ),
      );
      const json = await dlock(['status', 'sem-status', '--limit', '3', '--json'], { env });
      expect(json.code).toBe(0);
      const [state] = jsonLines(json.stdout.join('\n'));
      expect(state).toMatchObject({
        key: 'sem-status',
        kind: 'semaphore',
        held: true,
        limit: 3,
        available: 1,
        holders: [{ permits: 2, count: 1, fencingToken: token }],
      });
      // The mutex of the same key is another thing: free.
      expect((await dlock(['status', 'sem-status'], { env })).code).toBe(1);

      // One permit is left: 2 more do not fit.
      const full = await dlock(
        [
          'run',
          'sem-status',
          '--limit',
          '3',
          '--permits',
          '2',
          '--wait',
          '0',
          '--json',
          '--',
          'true',
        ],
        { env },
      );
      expect(full.code, full.output).toBe(75);
      const timeout = jsonLines(full.output).find((e) => e.event === 'timeout');
      expect(timeout).toMatchObject({
        key: 'sem-status',
        mode: 'semaphore',
        limit: 3,
        permits: 2,
        available: 1,
        waitMs: 0,
      });
      const one = await dlock(
        ['run', 'sem-status', '--limit', '3', '--', 'sh', '-c', 'echo "permits=$DLOCK_PERMITS"'],
        { env },
      );
      expect(one.code, one.output).toBe(0);
      expect(one.output).toContain('permits=1');

      // Another limit while it is held: a usage error, nothing locked.
      const other = await dlock(['run', 'sem-status', '--limit', '2', '--', 'true'], { env });
      expect(other.code, other.output).toBe(64);
      expect(other.output).toContain(
        '"sem-status" is a semaphore of limit 3 on the server (the limit of those holding or waiting for it), and this dlock asked for --limit 2',
      );
      const differs = await dlock(['status', 'sem-status', '--limit', '2'], { env });
      expect(differs.stdout[0]).toBe(
        'sem-status: semaphore of limit 3 (stored on the server; --limit 2 differs), 1 available, 1 holder',
      );
    } finally {
      expect((await holder.stop('SIGTERM')).code).toBe(42);
    }
    const free = await dlock(['status', 'sem-status', '--limit', '3', '--json'], { env });
    expect(free.code).toBe(1);
    expect(jsonLines(free.stdout.join('\n'))).toEqual([
      { key: 'sem-status', kind: 'semaphore', held: false, limit: 3, available: 3, holders: [] },
    ]);
  }, 60_000);
});

describe('dlock run --read / --write on SQLite', () => {
  it('lets two --read commands hold at once', async () => {
    const { history, gate, runs } = await gated('rw-pair', 2, ['run', 'rw-pair', '--read']);
    try {
      await untilOrExit(runs, () => started(history) === 2, 'both readers started');
      writeFileSync(gate, '');
      for (const run of runs) {
        expect((await run.exited).code, run.output()).toBe(0);
        expect(jsonLines(run.output()).find((e) => e.event === 'acquired')).toMatchObject({
          key: 'rw-pair',
          mode: 'read',
        });
      }
    } finally {
      for (const run of runs) await run.stop('SIGTERM');
    }
    expect(readHistory(history).most).toBe(2);
  }, 60_000);

  it('--write excludes readers and writers; a queued writer stops new readers; status --rw shows them', async () => {
    const reader = await startDlock(['run', 'rw-x', '--read', '--', process.execPath, LONG], {
      env,
      readyWhen: /ready token=\d+/,
    });
    let writer: Awaited<ReturnType<typeof startDlock>> | undefined;
    try {
      const readers = await dlock(['status', 'rw-x', '--rw', '--json'], { env });
      expect(readers.code).toBe(0);
      const [state] = jsonLines(readers.stdout.join('\n'));
      expect(state).toMatchObject({ key: 'rw-x', kind: 'read-write', held: true, writer: null });
      expect(state?.readers).toHaveLength(1);
      const plain = await dlock(['status', 'rw-x', '--rw'], { env });
      expect(plain.stdout[0]).toBe('rw-x: read by 1 reader');
      expect(plain.stdout[1]).toMatch(new RegExp(`^ {2}reader [^ ]+:${reader.pid}:node \\(`));

      const refused = await dlock(['run', 'rw-x', '--write', '--wait', '0', '--', 'true'], { env });
      expect(refused.code, refused.output).toBe(75);
      expect(refused.output).toContain(
        'gave up waiting for the write lock of "rw-x" after 0ms: read by 1 reader',
      );

      // A writer queues behind the reader; from then on a new reader does not get in.
      writer = await startDlock(
        ['run', 'rw-x', '--write', '--json', '--', process.execPath, LONG],
        { env, readyWhen: /"event":"waiting"/ },
      );
      const late = await dlock(['run', 'rw-x', '--read', '--wait', '0', '--', 'true'], { env });
      expect(late.code, late.output).toBe(75);

      expect((await reader.stop('SIGTERM')).code).toBe(42);
      await writer.waitForOutput(/ready token=\d+/, 20_000);
      const written = await dlock(['status', 'rw-x', '--rw'], { env });
      expect(written.stdout[0]).toMatch(new RegExp(`^rw-x: written by [^ ]+:${writer.pid}:node$`));
      const blocked = await dlock(['run', 'rw-x', '--read', '--wait', '0', '--', 'true'], { env });
      expect(blocked.code).toBe(75);
      const acquired = jsonLines(writer.output()).find((e) => e.event === 'acquired');
      expect(acquired).toMatchObject({ key: 'rw-x', mode: 'write' });
    } finally {
      await reader.stop('SIGTERM');
      if (writer) expect((await writer.stop('SIGTERM')).code).toBe(42);
    }
    expect((await dlock(['status', 'rw-x', '--rw'], { env })).code).toBe(1);
  }, 60_000);
});

describe('renewal and the guardian in every mode', () => {
  it('renews a permit, a read and a write lease while COMMAND outlives its TTL', async () => {
    // The guardian ends COMMAND before the lease could run out unless the renewals reach it: a
    // COMMAND that runs for 2.5 TTLs and exits 0 shows that they do in that mode (the lock's
    // mode beside them, as the control). Each mode on a key of its own, all at once.
    const sleep = [process.execPath, '-e', 'setTimeout(() => {}, 5_000)'];
    const modes = [['--limit', '2'], ['--read'], ['--write'], []];
    const results = await Promise.all(
      modes.map((mode, i) =>
        dlock(['run', `renewed-${i}`, ...mode, '--ttl', '2s', '--json', '--', ...sleep], { env }),
      ),
    );
    results.forEach((result, i) => {
      const mode = modes[i]!.join(' ') || 'lock';
      expect(result.code, `${mode}: ${result.output}`).toBe(0);
      const events = jsonLines(result.output).map((e) => e.event);
      expect(events, mode).toEqual(['acquired', 'released']);
    });
  }, 60_000);
});

describe('dlock run --limit on Redis', () => {
  it('runs 4 commands under --limit 2: never more than 2 at once, and 2 at once', async (ctx) => {
    if (!redis.available) return ctx.skip();
    await fourUnderLimitTwo('redis://127.0.0.1:6379', uniqueName('test:cli:sem-four:'));
  }, 90_000);
});
