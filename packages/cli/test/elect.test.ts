import { join } from 'node:path';
import { makeTempDir, waitUntil } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaderCommand } from '../src/commands/leader.js';
import { EXIT } from '../src/exit-codes.js';
import { main } from '../src/main.js';
import { openClient } from '../src/open-client.js';
import { captureIo } from './capture-io.js';

// dlock elect's and dlock leader's refusals and answers, called in this process (the
// end-to-end tests in elect.e2e.test.ts run the binary against real processes).

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let url: string;
beforeAll(async () => {
  dir = await makeTempDir('dlock-cli-elect-main-');
  url = `sqlite:${join(dir.path, 'elections.db')}`;
});
afterAll(() => dir.remove());

async function dlock(...argv: string[]) {
  const io = captureIo({ PATH: process.env.PATH });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('dlock elect / dlock leader in process', () => {
  it('refuse bad usage with 64 before connecting (nothing listens on port 1)', async () => {
    const nowhere = ['--url', 'redis://127.0.0.1:1'];
    const cases: [string[], string][] = [
      [['elect', ...nowhere], 'dlock elect needs a NAME'],
      [['elect', 'n', ...nowhere], 'put the command after "--"'],
      [['elect', 'n', 'm', ...nowhere, '--', 'true'], 'put the command after "--"'],
      [
        ['elect', 'n', '--on-lost', 'ignore', ...nowhere, '--', 'true'],
        '--on-lost takes term or kill; got "ignore"',
      ],
      [['elect', 'n', '--ttl', 'soon', ...nowhere, '--', 'true'], '--ttl takes a duration'],
      [['elect', 'n', '--wait', 'never', ...nowhere, '--', 'true'], '--wait takes a duration'],
      [
        ['elect', 'n', '--value', 'é'.repeat(2049), ...nowhere, '--', 'true'],
        '--value takes at most 4096 bytes',
      ],
      [
        ['elect', 'n', '--limit', '2', ...nowhere, '--', 'true'],
        'dlock elect has no option --limit',
      ],
      [['leader', ...nowhere], 'usage: dlock leader NAME'],
      [['leader', 'a', 'b', ...nowhere], 'usage: dlock leader NAME'],
      [['leader', 'n', '--interval', '1s', ...nowhere], 'dlock leader has no option --interval'],
    ];
    for (const [argv, message] of cases) {
      const result = await dlock(...argv);
      expect(result.code, argv.join(' ')).toBe(EXIT.USAGE);
      expect(result.err, argv.join(' ')).toContain(message);
      expect(result.err, argv.join(' ')).toMatch(new RegExp(`see "dlock ${argv[0]} --help"`));
    }
    for (const argv of [
      ['elect', 'n', '--url', 'memory:', '--', 'true'],
      ['leader', 'n', '--url', 'memory:'],
    ]) {
      const result = await dlock(...argv);
      expect(result.code, argv.join(' ')).toBe(EXIT.USAGE);
      expect(result.err).toContain('memory: keeps locks inside one process');
    }
  });

  it('print their help, and the overview lists them', async () => {
    const elect = await dlock('elect', '--help');
    expect(elect.code).toBe(EXIT.OK);
    expect(elect.out).toContain('Usage: dlock elect NAME [--value V]');
    expect(elect.out).toContain('79 leadership lost');
    const leader = await dlock('leader', '-h');
    expect(leader.code).toBe(EXIT.OK);
    expect(leader.out).toContain('0 there is a leader and 1 there is none');
    const overview = await dlock('--help');
    expect(overview.out).toMatch(/^ {2}elect NAME -- CMD/m);
    expect(overview.out).toMatch(/^ {2}leader NAME \[--watch\]/m);
  });

  it('dlock leader: 1 and "no leader", then 0 and the leader this process elected', async () => {
    const none = await dlock('leader', 'in-process', '--url', url);
    expect(none.code, none.err).toBe(EXIT.NEGATIVE);
    expect(none.out).toBe('in-process: no leader\n');
    const client = await openClient(url, { clientId: 'tester' });
    try {
      const leadership = await client
        .election('in-process', { value: 'here\nforged', ttlMs: 60_000 })
        .campaign();
      const json = await dlock('leader', 'in-process', '--url', url, '--json');
      expect(json.code, json.err).toBe(EXIT.OK);
      expect(JSON.parse(json.out)).toMatchObject({
        name: 'in-process',
        leader: true,
        value: 'here\nforged',
        term: String(leadership.term),
        holder: 'tester',
      });
      // A value from the backend cannot forge an output line.
      const human = await dlock('leader', 'in-process', '--url', url);
      expect(human.out).toMatch(
        new RegExp(
          `^in-process: led by here\\\\nforged \\(term ${leadership.term}, holder tester, lease ends in \\S+\\)\\n$`,
        ),
      );
      await leadership.resign();
    } finally {
      await client.close();
    }
  });

  it('dlock leader --watch: the leader now and after each change, until stopped', async () => {
    const io = captureIo({ PATH: process.env.PATH });
    const stop = new AbortController();
    const watching = leaderCommand(
      ['followed', '--watch', '--url', url, '--json'],
      io,
      stop.signal,
    );
    const client = await openClient(url, { clientId: 'tester' });
    const lines = () =>
      io
        .out()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { leader: boolean; value?: string });
    try {
      await waitForLines(lines, 1);
      const leadership = await client
        .election('followed', { value: 'v1', ttlMs: 60_000 })
        .campaign();
      await waitForLines(lines, 2);
      await leadership.proclaim('v2');
      await waitForLines(lines, 3);
      await leadership.resign();
      await waitForLines(lines, 4);
      stop.abort();
      expect(await watching).toBe(EXIT.OK);
      expect(lines().map((l) => (l.leader ? l.value : null))).toEqual([null, 'v1', 'v2', null]);
      // Without --json each line starts with the local time it was seen.
      const human = captureIo({ PATH: process.env.PATH });
      const humanStop = new AbortController();
      const humanWatch = leaderCommand(['followed', '-w', '--url', url], human, humanStop.signal);
      await waitUntil(() => human.out().includes('\n'), { timeoutMs: 20_000, message: 'a line' });
      humanStop.abort();
      expect(await humanWatch).toBe(EXIT.OK);
      expect(human.out()).toMatch(/^\d\d:\d\d:\d\d followed: no leader\n$/);
    } finally {
      stop.abort();
      await client.close();
    }
  }, 30_000);
});

/** Resolves once `lines()` has `n` entries (the watcher prints as changes arrive). */
async function waitForLines(lines: () => unknown[], n: number): Promise<void> {
  await waitUntil(() => lines().length >= n, { timeoutMs: 20_000, message: `${n} lines` });
}
