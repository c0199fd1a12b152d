import { join } from 'node:path';
import {
  createLockClient,
  type LeaseHolderInfo,
  LockArgumentError,
  LockBackendError,
  LockLimitError,
  LockUnsupportedError,
  LockUpgradeError,
  memoryBackend,
} from '@dlock/lock-core';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/cli-error.js';
import { parseMode } from '../src/commands/run-mode.js';
import { runTarget, sharedRefusal } from '../src/commands/run-target.js';
import {
  describeReadWrite,
  describeSemaphore,
  readWriteJson,
  semaphoreJson,
  summarizeReadWrite,
  summarizeSemaphore,
} from '../src/describe-shared.js';
import { EXIT } from '../src/exit-codes.js';
import { explainError } from '../src/explain-error.js';
import { main } from '../src/main.js';
import { openClient } from '../src/open-client.js';
import { captureIo } from './capture-io.js';

// `dlock run --limit/--read/--write` and `dlock status --limit/--rw`: what is decided before any
// I/O (arguments, help, refusals and their exit codes) and how holders are shown.

// A URL that cannot be opened (its "folder" is a device file, which not even root can make a
// folder in): a command that got past its argument checks fails on it, never with a refusal of
// its arguments, so such a refusal proves it came before any I/O.
const UNREACHABLE = 'sqlite:/dev/null/dlock-cli/locks.db';

async function dlock(...argv: string[]) {
  const io = captureIo({ PATH: process.env.PATH, DLOCK_URL: UNREACHABLE });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('dlock run: --limit, --permits, --change-limit, --read, --write', () => {
  it('parses each mode', () => {
    expect(parseMode({})).toEqual({ kind: 'lock' });
    expect(parseMode({ read: true })).toEqual({ kind: 'read' });
    expect(parseMode({ write: true })).toEqual({ kind: 'write' });
    expect(parseMode({ limit: '3' })).toEqual({
      kind: 'semaphore',
      limit: 3,
      permits: 1,
      changeLimit: false,
    });
    expect(parseMode({ limit: '3', permits: '3', 'change-limit': true })).toEqual({
      kind: 'semaphore',
      limit: 3,
      permits: 3,
      changeLimit: true,
    });
    expect(parseMode({ limit: '1000000' })).toMatchObject({ limit: 1_000_000 });
  });

  it('refuses --limit, --read and --write together with 64, before any I/O', async () => {
    for (const modes of [
      ['--limit', '2', '--read'],
      ['--limit', '2', '--write'],
      ['--read', '--write'],
      ['--write', '--limit=2', '--read'],
    ]) {
      const result = await dlock('run', 'k', ...modes, '--', 'true');
      expect(result.code, modes.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, modes.join(' ')).toMatch(/cannot be combined/);
      expect(result.err).toMatch(/see "dlock run --help"/);
    }
    const all = await dlock('run', 'k', '--read', '--write', '--limit', '2', '--', 'true');
    expect(all.err).toContain('--limit and --read and --write cannot be combined');
  });

  it('refuses a bad --limit or --permits, and --permits / --change-limit without --limit, with 64 before any I/O', async () => {
    const cases: [string[], string][] = [
      [['--limit', '0'], '--limit takes a whole number from 1 to 1000000; got "0"'],
      [['--limit=-2'], 'got "-2"'],
      [['--limit', '1.5'], 'got "1.5"'],
      [['--limit', '1e3'], 'got "1e3"'],
      [['--limit', '02'], 'got "02"'],
      [['--limit', ''], 'got ""'],
      [['--limit', 'many'], 'got "many"'],
      [['--limit', '1000001'], 'got "1000001"'],
      [['--limit', '9007199254740993'], 'got "9007199254740993"'],
      [['--limit', '2', '--permits', '0'], '--permits takes a whole number from 1'],
      [['--limit', '2', '--permits', '3'], '--permits 3 is more than --limit 2'],
      [['--permits', '2'], '--permits goes with --limit N'],
      [['--read', '--permits', '1'], '--permits goes with --limit N'],
      [['--change-limit'], '--change-limit goes with --limit N'],
      [['--write', '--change-limit'], '--change-limit goes with --limit N'],
      [['--limit'], '--limit needs a value'],
      [['--read=yes'], '--read is a switch and takes no value'],
    ];
    for (const [options, message] of cases) {
      const result = await dlock('run', 'k', ...options, '--', 'true');
      expect(result.code, options.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, options.join(' ')).toContain(message);
    }
  });

  it('gets past the argument checks with a valid mode (to the backend, which fails or refuses)', async () => {
    // The counterpart of the refusals above: without it, a parser refusing everything would pass.
    // An argument refusal ends with a pointer to the help; what the backend says does not.
    for (const options of [['--limit', '2', '--permits', '2'], ['--read'], ['--write'], []]) {
      const result = await dlock('run', 'k', ...options, '--', 'true');
      expect(result.err, options.join(' ')).toMatch(/cannot use the lock backend|does not support/);
      expect(result.err, options.join(' ')).not.toContain('--help');
    }
  });

  it('documents the modes, DLOCK_PERMITS and the exit codes in its help', async () => {
    const help = await dlock('run', '--help');
    expect(help.code).toBe(EXIT.OK);
    for (const text of [
      'dlock run KEY --limit N [--permits K]',
      'dlock run KEY --read|--write',
      '--limit N',
      '--permits K',
      '--change-limit',
      '--read ',
      '--write ',
      'DLOCK_PERMITS',
      'never exclude one another',
      '--limit N\ndiffers from the limit',
      'dlock run encoders --limit 4 -- ./encode.sh',
      'dlock run catalog --write',
    ]) {
      expect(help.out).toContain(text);
    }
  });
});

describe('the overview and ls', () => {
  it('names the modes in the overview and says that ls lists locks only', async () => {
    const overview = await dlock('--help');
    expect(overview.out).toContain('--limit N / --read / --write');
    expect(overview.out).toContain('--limit N: the semaphore KEY, --rw: the read-write lock');
    const ls = await dlock('ls', '--help');
    expect(ls.out).toContain(
      'semaphores and read-write locks (dlock run\n--limit/--read/--write) are not listed',
    );
  });
});

describe('dlock status: --limit and --rw', () => {
  it('refuses --limit with --rw, a bad --limit, and --permits with 64 before any I/O', async () => {
    const cases: [string[], string][] = [
      [['--limit', '2', '--rw'], '--limit and --rw cannot be combined'],
      [['--limit', '0'], '--limit takes a whole number from 1 to 1000000; got "0"'],
      [['--limit', 'x', '--json'], 'got "x"'],
      [['--permits', '1'], 'dlock status has no option --permits'],
      [['--rw=1'], '--rw is a switch'],
    ];
    for (const [options, message] of cases) {
      const result = await dlock('status', 'k', ...options);
      expect(result.code, options.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, options.join(' ')).toContain(message);
      expect(result.err).toContain('see "dlock status --help"');
    }
    for (const options of [['--limit', '2'], ['--rw']]) {
      const result = await dlock('status', 'k', ...options);
      expect(result.err, options.join(' ')).toMatch(/cannot use the lock backend|does not support/);
      expect(result.err, options.join(' ')).not.toContain('--help');
    }
  });

  it('documents both views and their JSON in its help', async () => {
    const help = await dlock('status', '--help');
    expect(help.code).toBe(EXIT.OK);
    for (const text of [
      'Usage: dlock status KEY [--limit N | --rw]',
      '--limit N',
      '--rw',
      '{"key","kind":"semaphore","held","limit","available","holders":[LEASE],"waiters"}',
      '{"key","kind":"read-write","held","writer":LEASE|null,"readers":[LEASE],"waiters"}',
      'LEASE: {"holder","permits","count","fencingToken","expiresAt","expiresInMs"}',
    ]) {
      expect(help.out).toContain(text);
    }
  });
});

describe('refusals of semaphores and read-write locks', () => {
  it('a stored limit that differs is a usage error (64) naming both limits and --change-limit', () => {
    const refusal = sharedRefusal(new LockLimitError('jobs', 3, 2), 'jobs');
    expect(refusal).toBeInstanceOf(UsageError);
    expect(refusal!.message).toBe(
      '"jobs" is a semaphore of limit 3 on the server (the limit of those holding or waiting for it), and this dlock asked for --limit 2: every process using "jobs" must pass the same --limit; to resize it on purpose, pass --change-limit',
    );
    expect(explainError(refusal)).toMatchObject({ exitCode: EXIT.USAGE, kind: 'usage' });
  });

  it('an unsupported backend and an upgrade are usage errors (64) in the core words', () => {
    const unsupported = new LockUnsupportedError(
      'semaphore',
      'The redlock backend gives semaphores of limit 1 only, not 3: over a quorum',
    );
    expect(explainError(sharedRefusal(unsupported, 'k'))).toMatchObject({
      exitCode: EXIT.USAGE,
      message:
        'The redlock backend gives semaphores of limit 1 only, not 3: over a quorum; nothing was locked',
    });
    const upgrade = new LockUpgradeError('k');
    expect(explainError(sharedRefusal(upgrade, 'k'))).toMatchObject({
      exitCode: EXIT.USAGE,
      message: upgrade.message,
    });
    // Without the mapping, these would be reported as a failing backend (69).
    expect(explainError(unsupported).exitCode).toBe(EXIT.BACKEND);
  });

  it('leaves every other error alone', () => {
    for (const error of [
      new LockBackendError('redis', 'tryAcquire', new Error('down')),
      new LockArgumentError('bad'),
      new Error('DLOCK_LIMIT'),
      undefined,
      null,
      'text',
    ]) {
      expect(sharedRefusal(error, 'k')).toBeUndefined();
    }
  });

  it("the CLI's --limit bound is the core's: a limit beyond it is the core's argument error", () => {
    const client = createLockClient(memoryBackend());
    expect(() => client.semaphore('k', { limit: 1_000_001 })).toThrow(LockArgumentError);
    // At the bound the core refuses only for want of semaphores on this backend, if at all.
    let error: unknown;
    try {
      client.semaphore('k', { limit: 1_000_000 });
    } catch (thrown) {
      error = thrown;
    }
    expect(LockArgumentError.isInstance(error)).toBe(false);
    return client.close();
  });
});

describe('how holders are shown', () => {
  const now = Date.parse('2026-12-02T03:00:00.000Z');
  // "lease ends in" is measured from the clock: a fixed one makes it exact.
  beforeEach(() => {
    vi.useFakeTimers({ now, toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const lease = (holder: string, permits: number, token: bigint, count = 1): LeaseHolderInfo => ({
    holder,
    permits,
    count,
    expiresAt: now + 20_000,
    fencingToken: token,
  });

  it('a semaphore: limit, available, one line per holder; a differing stored limit is pointed out', () => {
    const info = {
      key: 'jobs',
      limit: 3,
      available: 0,
      holders: [lease('web-1:10:encode', 1, 5n), lease('web-2:11:encode', 2, 6n, 2)],
      waiters: 2,
    };
    const lines = describeSemaphore(info, 3);
    expect(lines[0]).toBe('jobs: semaphore of limit 3, 0 available, 2 holders, 2 waiting');
    expect(lines.slice(1)).toEqual([
      '  web-1:10:encode (1 permit, fencing token 5, lease ends in 20.0s)',
      '  web-2:11:encode (2 permits, fencing token 6, re-entered 2 times, lease ends in 20.0s)',
    ]);
    expect(describeSemaphore(info, 2)[0]).toBe(
      'jobs: semaphore of limit 3 (stored on the server; --limit 2 differs), 0 available, 2 holders, 2 waiting',
    );
    expect(
      describeSemaphore(
        { key: 'jobs', limit: 2, available: 2, holders: [], waiters: undefined },
        2,
      ),
    ).toEqual(['jobs: semaphore of limit 2, 2 available, free']);
    expect(summarizeSemaphore(info)).toBe(
      'limit 3, 0 available: held by web-1:10:encode (1 permit), web-2:11:encode (2 permits), 2 waiting',
    );
    const json = semaphoreJson(info);
    expect(json).toMatchObject({
      key: 'jobs',
      kind: 'semaphore',
      held: true,
      limit: 3,
      available: 0,
      waiters: 2,
    });
    expect((json.holders as Record<string, unknown>[])[1]).toMatchObject({
      holder: 'web-2:11:encode',
      permits: 2,
      count: 2,
      fencingToken: 6n,
      expiresAt: new Date(now + 20_000).toISOString(),
    });
    expect(
      semaphoreJson({ key: 'k', limit: 1, available: 1, holders: [], waiters: undefined }),
    ).toEqual({ key: 'k', kind: 'semaphore', held: false, limit: 1, available: 1, holders: [] });
  });

  it('a read-write lock: writer, readers, waiters; free', () => {
    const readers = {
      key: 'cat',
      writer: null,
      readers: [lease('a:1:cat', 1, 3n), lease('b:2:cat', 1, 3n)],
      waiters: 1,
    };
    const lines = describeReadWrite(readers);
    expect(lines[0]).toBe('cat: read by 2 readers, 1 waiting');
    expect(lines.slice(1)).toEqual([
      '  reader a:1:cat (fencing token 3, lease ends in 20.0s)',
      '  reader b:2:cat (fencing token 3, lease ends in 20.0s)',
    ]);
    // A writer that downgraded holds both.
    const both = { key: 'cat', writer: lease('w:9:sh', 1, 8n), readers: [lease('w:9:sh', 1, 8n)] };
    expect(describeReadWrite(both)[0]).toBe('cat: written by w:9:sh and read by 1 reader');
    expect(describeReadWrite(both).slice(1)).toEqual([
      '  writer w:9:sh (fencing token 8, lease ends in 20.0s)',
      '  reader w:9:sh (fencing token 8, lease ends in 20.0s)',
    ]);
    expect(describeReadWrite({ key: 'cat', writer: null, readers: [] })).toEqual(['cat: free']);
    expect(summarizeReadWrite({ key: 'cat', writer: null, readers: [], waiters: 0 })).toBe('free');
    expect(readWriteJson(both)).toMatchObject({
      kind: 'read-write',
      held: true,
      writer: { holder: 'w:9:sh', permits: 1, fencingToken: 8n },
      readers: [{ holder: 'w:9:sh' }],
    });
    expect(readWriteJson({ key: 'cat', writer: null, readers: [] })).toEqual({
      key: 'cat',
      kind: 'read-write',
      held: false,
      writer: null,
      readers: [],
    });
  });

  it('escapes control characters in holder names and keys', () => {
    const evil = lease('x\n\u001b[2Jforged', 1, 1n);
    const lines = describeSemaphore(
      { key: 'k\r', limit: 1, available: 0, holders: [evil], waiters: undefined },
      1,
    );
    expect(lines.join('\n')).not.toContain('\r');
    expect(lines.join('\n')).not.toContain('\u001b');
    expect(lines[0]).toContain('k\\r');
    expect(lines[1]).toContain('x\\n\\x1b[2Jforged');
    expect(describeReadWrite({ key: 'k', writer: evil, readers: [] })[0]).toBe(
      'k: written by x\\n\\x1b[2Jforged',
    );
  });
});

describe('what dlock run takes in each mode (on the memory backend, in this process)', () => {
  it('a semaphore: permits up to the limit, DLOCK_PERMITS, holders; a differing limit is refused with 64', async () => {
    const client = createLockClient(memoryBackend(), { clientId: 'test:1:sh' });
    try {
      const mode = { kind: 'semaphore', limit: 3, permits: 2, changeLimit: false } as const;
      const big = runTarget(client, 'jobs', mode);
      const one = runTarget(client, 'jobs', { ...mode, permits: 1 });
      expect(big.what).toBe('2 permits of "jobs" (limit 3)');
      expect(big.noun).toBe('the 2 permits of "jobs"');
      expect(one.what).toBe('a permit of "jobs" (limit 3)');
      expect(big.fields).toEqual({ mode: 'semaphore', limit: 3, permits: 2 });
      const first = await big.tryAcquire({});
      expect(first).not.toBeNull();
      expect(big.env(first!)).toEqual({ DLOCK_PERMITS: '2' });
      const second = await one.tryAcquire({});
      expect(second).not.toBeNull();
      expect(await one.tryAcquire({})).toBeNull();
      const holders = await one.holders();
      expect(holders.human).toBe(
        'limit 3, 0 available: held by test:1:sh (2 permits), test:1:sh (1 permit)',
      );
      expect(holders.json).toMatchObject({ kind: 'semaphore', limit: 3, available: 0, held: true });

      // Another limit while the key is held: the core's LockLimitError, in the CLI's words.
      const other = runTarget(client, 'jobs', { ...mode, limit: 2, permits: 1 });
      const refused = await other.tryAcquire({}).catch((error: unknown) => error);
      expect(LockLimitError.isInstance(refused)).toBe(true);
      expect(explainError(sharedRefusal(refused, 'jobs'))).toMatchObject({
        exitCode: EXIT.USAGE,
        message: expect.stringContaining('limit 3 on the server'),
      });
      // --change-limit resizes it: holders beyond the lower limit keep their permits.
      const resize = runTarget(client, 'jobs', {
        ...mode,
        limit: 4,
        permits: 1,
        changeLimit: true,
      });
      expect(await resize.tryAcquire({})).not.toBeNull();
      expect((await resize.holders()).json).toMatchObject({ limit: 4, available: 0 });
    } finally {
      await client.close();
    }
  });

  it('a read-write lock: readers share, a writer is refused while they hold; the lock mode is the mutex', async () => {
    const client = createLockClient(memoryBackend(), { clientId: 'test:2:cat' });
    try {
      const read = runTarget(client, 'catalog', { kind: 'read' });
      const write = runTarget(client, 'catalog', { kind: 'write' });
      expect(read.what).toBe('the read lock of "catalog"');
      expect(write.noun).toBe('the write lock of "catalog"');
      expect(write.fields).toEqual({ mode: 'write' });
      const r1 = await read.tryAcquire({});
      const r2 = await read.tryAcquire({});
      expect(r1).not.toBeNull();
      expect(r2).not.toBeNull();
      expect(read.env(r1!)).toEqual({});
      expect(await write.tryAcquire({})).toBeNull();
      expect((await write.holders()).human).toBe('read by 2 readers');
      // The mutex of the same key is another namespace: free.
      const lock = runTarget(client, 'catalog', { kind: 'lock' });
      expect(lock.what).toBe('"catalog"');
      expect(lock.noun).toBe('the lock "catalog"');
      expect((await lock.holders()).human).toBe('free');
      await r1!.release();
      await r2!.release();
      const w = await write.tryAcquire({});
      expect(w).not.toBeNull();
      expect((await read.holders()).human).toBe('written by test:2:cat');
      expect(await read.tryAcquire({})).toBeNull();
    } finally {
      await client.close();
    }
  });
});

describe('run --limit / --read and status --limit / --rw in this process (SQLite file)', () => {
  // The binary's tests cover these end to end; here v8 sees the lines they run.
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let url: string;
  beforeAll(async () => {
    tmp = await makeTempDir('dlock-cli-shared-main-');
    url = `sqlite:${join(tmp.path, 'locks.db')}`;
  });
  afterAll(() => tmp.remove());

  async function here(...argv: string[]) {
    const io = captureIo({ PATH: process.env.PATH });
    const code = await main(argv, io);
    return { code, out: io.out(), err: io.err() };
  }

  it('runs COMMAND under permits and a read lock, shows them, refuses another limit with 64', async () => {
    // Exits 3 when DLOCK_PERMITS is 2 (COMMAND's stdout is not captured here, its exit code is).
    const script = 'process.exit(Number(process.env.DLOCK_PERMITS) + 1)';
    const run = await here(
      'run',
      'here',
      '--url',
      url,
      '--limit',
      '2',
      '--permits',
      '2',
      '--',
      process.execPath,
      '-e',
      script,
    );
    expect(run.code, run.err).toBe(3);
    expect(run.err).toContain('acquired 2 permits of "here" (limit 2)');
    expect(run.err).toContain('released 2 permits of "here" (limit 2); command exited with 3');

    const client = await openClient(url, {});
    try {
      const permit = await client.semaphore('here', { limit: 2 }).acquire({ ttlMs: 60_000 });
      const full = await here(
        'run',
        'here',
        '--url',
        url,
        '--limit',
        '2',
        '--permits',
        '2',
        '--wait',
        '0',
        '--',
        'true',
      );
      expect(full.code).toBe(EXIT.TIMEOUT);
      expect(full.err).toMatch(
        /gave up waiting for 2 permits of "here" \(limit 2\) after 0ms: limit 2, 1 available: held by .+ \(1 permit\)/,
      );
      const other = await here('run', 'here', '--url', url, '--limit', '5', '--', 'true');
      expect(other.code).toBe(EXIT.USAGE);
      expect(other.err).toContain('is a semaphore of limit 2 on the server');
      const status = await here('status', 'here', '--url', url, '--limit', '2', '--json');
      expect(status.code).toBe(EXIT.OK);
      expect(JSON.parse(status.out)).toMatchObject({
        kind: 'semaphore',
        limit: 2,
        available: 1,
        holders: [{ permits: 1, fencingToken: String(permit.fencingToken) }],
      });
      await permit.release();

      const reader = await client.readWriteLock('here').read.acquire({ ttlMs: 60_000 });
      const read = await here('run', 'here', '--url', url, '--read', '--wait', '0', '--', 'true');
      expect(read.code, read.err).toBe(0);
      const write = await here(
        'run',
        'here',
        '--url',
        url,
        '--write',
        '--wait',
        '0',
        '--json',
        '--',
        'true',
      );
      expect(write.code).toBe(EXIT.TIMEOUT);
      const rw = await here('status', 'here', '--url', url, '--rw');
      expect(rw.code).toBe(EXIT.OK);
      expect(rw.out).toMatch(/^here: read by 1 reader\n {2}reader /);
      await reader.release();
    } finally {
      await client.close();
    }
    expect(await here('status', 'here', '--url', url, '--rw')).toMatchObject({
      code: EXIT.NEGATIVE,
      out: 'here: free\n',
    });
    expect((await here('status', 'here', '--url', url, '--limit', '2')).out).toBe(
      'here: semaphore of limit 2, 2 available, free\n',
    );
  }, 60_000);
});
