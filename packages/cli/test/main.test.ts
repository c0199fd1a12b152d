import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSnowflake, TWITTER_EPOCH } from '@dlock/idgen';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/exit-codes.js';
import { main } from '../src/main.js';
import { openClient } from '../src/open-client.js';
import { captureIo } from './capture-io.js';

// The same commands as the end-to-end tests, called in this process: the branches the binary's
// tests do not reach, and line coverage for the CLI (v8 does not see into child processes).

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let url: string;
beforeAll(async () => {
  dir = await makeTempDir('dlock-cli-main-');
  url = `sqlite:${join(dir.path, 'locks.db')}`;
});
afterAll(() => dir.remove());

async function dlock(...argv: string[]) {
  const io = captureIo({ PATH: process.env.PATH });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('main()', () => {
  it('prints the overview: exit 64 without a command, 0 when asked; the version; unknown commands', async () => {
    const bare = await dlock();
    expect(bare.code).toBe(EXIT.USAGE);
    expect(bare.out).toContain('Usage: dlock COMMAND');
    expect((await dlock('help')).code).toBe(EXIT.OK);
    const version = await dlock('--version');
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const unknown = await dlock('lock');
    expect(unknown.code).toBe(EXIT.USAGE);
    expect(unknown.err).toBe('dlock: unknown command "lock"; run "dlock --help" for the list\n');
  });

  it('rejects bad positionals and options of every command with 64 and a pointer to its help', async () => {
    for (const argv of [
      ['status'],
      ['status', 'a', 'b'],
      ['status', 'k', '--nope'],
      ['release'],
      ['release', 'k'],
      ['id'],
      ['id', 'snowflake', '-n', '0'],
      ['id', 'snowflake', '-n', '1000001'],
      ['id', 'snowflake', '--datacenter', '1.5'],
      ['id', 'snowflake', '--epoch', 'yesterday'],
      ['id', 'snowflake', '--epoch', String(Date.now() + 86_400_000)],
      ['id', 'uuid4', '--worker', '1'],
      ['run', 'k'],
      ['run', '--', 'true'],
      ['run', 'k', '--ttl', 'soon', '--', 'true'],
      ['run', 'k', '--on-lost', 'panic', '--', 'true'],
    ]) {
      const result = await dlock(...argv);
      expect(result.code, argv.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, argv.join(' ')).toMatch(new RegExp(`see "dlock ${argv[0]} --help"`));
    }
  });

  it('refuses options in its own words: unknown, ambiguous, missing or unwanted values', async () => {
    const cases: [string[], string][] = [
      [
        ['run', 'k', '--ttl', '-5s', '--', 'true'],
        'dlock: --ttl needs a value, and "-5s" after it looks like an option; to pass "-5s" as the value write --ttl=-5s',
      ],
      [['run', 'k', '--ttl=-5s', '--', 'true'], '--ttl takes a duration such as 500ms'],
      [
        ['status', 'k', '--nope'],
        'dlock: dlock status has no option --nope; it takes --url VALUE,',
      ],
      [['release', 'k', '--url'], 'dlock: --url needs a value (--url VALUE)'],
      [['status', 'k', '--json=yes'], 'dlock: --json is a switch and takes no value'],
      [['demo', 'extra'], 'dlock: dlock demo takes no argument "extra"'],
      [['id', 'snowflake', '--wrkr', '1'], 'dlock: dlock id has no option --wrkr'],
      [['id', 'snowflake', '-n'], 'dlock: --count needs a value (--count VALUE)'],
      [
        ['id', 'snowflake', '-n', '-5'],
        'dlock: --count needs a value, and "-5" after it looks like an option; to pass "-5" as the value write --count=-5',
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await dlock(...argv);
      expect(result.code, argv.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, argv.join(' ')).toContain(message);
      expect(result.err, argv.join(' ')).not.toMatch(
        /Did you forget|argument is ambiguous|Unknown option/,
      );
    }
  });

  it('refuses memory: with the reason, before opening anything', async () => {
    for (const argv of [
      ['status', 'k', '--url', 'memory:'],
      ['release', 'k', '--force', '--url', 'memory:'],
      ['run', 'k', '--url', 'memory:', '--', 'true'],
    ]) {
      const result = await dlock(...argv);
      expect(result.code, argv.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, argv.join(' ')).toContain(
        'memory: keeps locks inside one process, and every dlock command is a process of its own',
      );
    }
  });

  it('explains a URL that is not one, before opening anything', async () => {
    const result = await dlock('status', 'k', '--url', 'locks.db');
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.err).toContain('"locks.db" is not a lock URL');
  });

  it('status, release --force and status again, against a lock held in this process', async () => {
    const client = await openClient(url, {});
    try {
      const lock = await client.acquire('held-here', { ttlMs: 60_000 });
      const status = await dlock('status', 'held-here', '--url', url);
      expect(status.code).toBe(EXIT.OK);
      expect(status.out).toMatch(
        new RegExp(`^held-here: held by .+ \\(fencing token ${lock.fencingToken}, lease ends in`),
      );
      const release = await dlock('release', 'held-here', '--force', '--url', url, '--json');
      expect(release.code).toBe(EXIT.OK);
      expect(release.err).toContain('warning: force-releasing "held-here" (held by');
      const json = JSON.parse(release.out) as { released: boolean; previous: { held: boolean } };
      expect(json).toMatchObject({ released: true, previous: { held: true } });
      const after = await dlock('status', 'held-here', '--url', url);
      expect(after).toMatchObject({ code: EXIT.NEGATIVE, out: 'held-here: free\n' });
      const again = await dlock('release', 'held-here', '--force', '--url', url);
      expect(again).toMatchObject({
        code: EXIT.NEGATIVE,
        out: 'held-here: was free, nothing to release\n',
        err: '', // no warning about a holder that does not exist
      });
    } finally {
      await client.close();
    }
  });

  it('prints JSON errors for --json and plain ones otherwise when the backend is unusable', async () => {
    const broken = `sqlite:${dir.path}`; // a folder: SQLite cannot open it as a database
    const json = await dlock('status', 'k', '--url', broken, '--json');
    expect(json.code).toBe(EXIT.BACKEND);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, error: 'backend' });
    const plain = await dlock('status', 'k', '--url', broken);
    expect(plain.err).toMatch(/^dlock: cannot use the lock backend at sqlite:/);
  });

  it("makes snowflakes on @dlock/idgen's default epoch when none is given", async () => {
    const before = Date.now();
    const { ids } = JSON.parse((await dlock('id', 'snowflake', '--json')).out) as { ids: string[] };
    const decoded = createSnowflake({ datacenterId: 0, workerId: 0 }).decode(ids[0]!);
    expect(decoded.timestamp).toBeGreaterThanOrEqual(before);
    expect(decoded.timestamp).toBeLessThanOrEqual(Date.now());
    expect(Number(BigInt(ids[0]!) >> 22n) + TWITTER_EPOCH).toBe(decoded.timestamp);
  });

  it('makes snowflakes with a custom epoch and uuids as lines', async () => {
    const epoch = Date.now() - 1_000;
    const snow = await dlock('id', 'snowflake', '--epoch', String(epoch), '-n', '2', '--json');
    const { ids } = JSON.parse(snow.out) as { ids: string[] };
    // 1 s after the epoch: the timestamp part is about 1000 ms.
    const ms = Number(BigInt(ids[0]!) >> 22n);
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(60_000);
    const uuids = (await dlock('id', 'uuid4', '-n', '3')).out.trim().split('\n');
    expect(new Set(uuids).size).toBe(3);
  });

  it('run: the command gets the key and token, dlock exits with its code and frees the lock', async () => {
    const file = join(dir.path, 'env.txt');
    const script = `require('node:fs').writeFileSync(${JSON.stringify(file)}, process.env.DLOCK_KEY + ' ' + process.env.DLOCK_FENCING_TOKEN); process.exit(3)`;
    const result = await dlock('run', 'job', '--url', url, '--', process.execPath, '-e', script);
    expect(result.code).toBe(3);
    expect(readFileSync(file, 'utf8')).toMatch(/^job \d+$/);
    expect((await dlock('status', 'job', '--url', url)).code).toBe(EXIT.NEGATIVE);
    expect(process.listenerCount('SIGTERM')).toBe(0); // forwarding handlers removed again
  });

  it('run: 75 with the holder named when the wait runs out; 127 for a missing command', async () => {
    const client = await openClient(url, {});
    try {
      await client.acquire('busy', { ttlMs: 60_000 });
      const timedOut = await dlock('run', 'busy', '--url', url, '--wait', '50ms', '--', 'true');
      expect(timedOut.code).toBe(EXIT.TIMEOUT);
      expect(timedOut.err).toMatch(/busy.*held by/);
    } finally {
      await client.close();
    }
    const missing = await dlock('run', 'free', '--url', url, '--', join(dir.path, 'no-such-cmd'));
    expect(missing.code).toBe(EXIT.NOT_FOUND);
  });
});
