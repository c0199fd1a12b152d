import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLockClient } from '@dlock/lock-core';
import { connectBackend } from '@dlock/lock-sqlite';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lsCommand } from '../src/commands/ls.js';
import type { Io } from '../src/io.js';
import { captureIo } from './capture-io.js';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let url: string;
beforeAll(async () => {
  dir = await makeTempDir('dlock-cli-ls-tty-');
  url = `sqlite:${join(dir.path, 'locks.db')}`;
});
afterAll(() => dir.remove());

/** A terminal-like stdout that aborts `stop` once it has received `frames` redraws. */
function terminal(frames: number, stop: AbortController): Io & { text(): string } {
  let text = '';
  const stdout = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        text += chunk.toString();
        if (text.split('\x1b[H').length - 1 >= frames) stop.abort();
        done();
      },
    }),
    { isTTY: true, columns: 120 },
  );
  const stderr = new Writable({ write: (_c, _e, done) => done() });
  return { stdout, stderr, env: {}, text: () => text };
}

describe('dlock ls in process', () => {
  it('prints the table, JSON and usage errors', async () => {
    const locks = createLockClient(await connectBackend(new URL(url), {}), { clientId: 'in-proc' });
    const held = await Promise.all([
      locks.acquire('proc:b', { ttlMs: 30_000, owner: 'svc#secret' }),
      locks.acquire('proc:a', { ttlMs: 30_000 }),
      locks.acquire('proc:b', { ttlMs: 30_000, owner: 'svc#secret' }),
    ]);
    const table = captureIo();
    expect(await lsCommand(['proc:', '--url', url], table)).toBe(0);
    const lines = table.out().trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'KEY HOLDER FENCING',
      `proc:a in-proc ${held[1]!.fencingToken}`,
      'proc:b svc (x2)',
    ]);
    const json = captureIo();
    expect(await lsCommand(['proc:', '--url', url, '--json', '--limit', '1'], json)).toBe(0);
    const doc = JSON.parse(json.out()) as {
      locks: Array<Record<string, unknown>>;
      truncated: boolean;
    };
    expect(doc.truncated).toBe(true);
    expect(doc.locks).toMatchObject([{ key: 'proc:a', holder: 'in-proc', waiters: null }]);
    expect(json.out()).not.toContain('secret');
    const help = captureIo();
    expect(await lsCommand(['--help'], help)).toBe(0);
    await expect(lsCommand(['--limit', 'x'], captureIo())).rejects.toThrow('--limit');
    await expect(lsCommand(['--interval', '1s'], captureIo())).rejects.toThrow('--watch');
    await Promise.all(held.map((l) => l.release()));
    const none = captureIo();
    expect(await lsCommand(['proc:', '--url', url], none)).toBe(1);
    expect(none.out()).toBe('no locks held under "proc:"\n');
    await locks.close();
  });
});

describe('dlock ls --watch on a terminal', () => {
  it('redraws in place: alternate screen, cursor home, each line and the rest cleared', async () => {
    const locks = createLockClient(await connectBackend(new URL(url), {}), {
      clientId: 'tty-test',
    });
    const held = await locks.acquire('tty:one', { ttlMs: 30_000 });
    const stop = new AbortController();
    const io = terminal(2, stop);
    const code = await lsCommand(
      ['tty:', '--watch', '--interval', '100ms', '--url', url],
      io,
      stop.signal,
    );
    expect(code).toBe(0);
    const text = io.text();
    expect(text.startsWith('\x1b[?1049h\x1b[?25l\x1b[H')).toBe(true);
    expect(text.endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
    // No full-screen clear between frames: only clear-to-end-of-line and -of-screen.
    expect(text).not.toContain('\x1b[2J');
    const frames = text.split('\x1b[H').slice(1);
    expect(frames.length).toBe(2);
    for (const frame of frames) {
      expect(frame).toMatch(/^dlock ls tty: on sqlite:.* \(Ctrl-C to stop\)/);
      const row = frame.split('\n').find((line) => line.startsWith('tty:one'));
      expect(row?.endsWith('\x1b[K')).toBe(true);
      expect(row?.slice(0, -3)).toMatch(/^tty:one\s+tty-test\s+\d+\s+\d+(\.\d)?s\s+-$/);
      expect(frame).toContain('\x1b[J');
    }
    await held.release();
    await locks.close();
  });
});
