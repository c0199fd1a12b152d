import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '@dlock/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, type WorkerMessage } from '../src/demo/messages.js';
import { initResource, readResource, readTokens, writeResource } from '../src/demo/resource.js';
import { main } from '../src/main.js';
import { captureIo } from './capture-io.js';

let dir: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  dir = await makeTempDir('dlock-cli-demo-');
});
afterAll(() => dir.remove());

describe("the demo's resource", () => {
  it('accepts writes with rising tokens and refuses an equal or older one', () => {
    initResource(dir.path);
    expect(writeResource(dir.path, 1, 5n)).toBe(true);
    expect(writeResource(dir.path, 2, 5n)).toBe(false); // same token: a second writer
    expect(writeResource(dir.path, 2, 4n)).toBe(false); // a stale holder
    expect(writeResource(dir.path, 2, 9n)).toBe(true);
    expect(readResource(dir.path)).toEqual({ value: 2, lastToken: '9' });
    expect(readTokens(dir.path)).toEqual([5n, 9n]);
  });

  it('reads only well-formed worker messages', () => {
    expect(parseMessage('{"t":"wait","w":1}')).toEqual({ t: 'wait', w: 1 });
    expect(parseMessage('{"w":1}')).toBeUndefined();
    expect(parseMessage('null')).toBeUndefined();
    expect(parseMessage('npm warn something')).toBeUndefined();
  });
});

describe('dlock demo-worker (in this process)', () => {
  it('three workers on one SQLite file: every increment lands, tokens rise in write order', async () => {
    const work = join(dir.path, 'run');
    mkdirSync(work);
    initResource(work);
    const url = `sqlite:${join(work, 'locks.db')}`;
    const sections = 8;
    const ios = [0, 1, 2].map(() => captureIo({}));
    const runs = await Promise.all(
      ios.map((io, w) =>
        main(
          [
            'demo-worker',
            '--url',
            url,
            '--key',
            'demo',
            '--dir',
            work,
            '--sections',
            String(sections),
            '--id',
            String(w),
          ],
          io,
        ),
      ),
    );
    expect(runs).toEqual([0, 0, 0]);
    const bad = captureIo({});
    expect(await main(['demo-worker', '--url', url, '--key', 'demo', '--dir', work], bad)).toBe(64);
    expect(bad.out()).toBe('');
    const messages = ios.flatMap((io) =>
      io
        .out()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as WorkerMessage),
    );
    const leaves = messages.filter((m) => m.t === 'leave');
    expect(leaves).toHaveLength(3 * sections);
    expect(leaves.every((m) => m.t === 'leave' && m.accepted)).toBe(true);
    expect(messages.filter((m) => m.t === 'done')).toHaveLength(3);
    expect(readResource(work).value).toBe(3 * sections);
    const tokens = readTokens(work);
    expect(tokens).toHaveLength(3 * sections);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  });
});
