import { LockBackendError, LockLostError, LockTimeoutError } from '@dlock/lock-core';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli-error.js';
import { DemoState } from '../src/demo/state.js';
import { LiveView, PlainView } from '../src/demo/view.js';
import { describeHolder, holderJson } from '../src/describe-holder.js';
import { formatDuration, parseDuration } from '../src/durations.js';
import { EXIT } from '../src/exit-codes.js';
import { explainError, redact } from '../src/explain-error.js';
import { captureIo } from './capture-io.js';

describe('durations', () => {
  it('parses units, bare seconds and forever', () => {
    expect(parseDuration('--ttl', '500ms')).toBe(500);
    expect(parseDuration('--ttl', '1.5s')).toBe(1_500);
    expect(parseDuration('--ttl', ' 2M ')).toBe(120_000);
    expect(parseDuration('--ttl', '1h')).toBe(3_600_000);
    expect(parseDuration('--wait', '30')).toBe(30_000);
    expect(parseDuration('--wait', 'forever', true)).toBe(Number.POSITIVE_INFINITY);
    expect(parseDuration('--wait', 'inf', true)).toBe(Number.POSITIVE_INFINITY);
  });

  it('names the flag and the accepted forms when the text is not a duration', () => {
    expect(() => parseDuration('--ttl', 'forever')).toThrow(UsageError);
    expect(() => parseDuration('--ttl', '-5s')).toThrow(/--ttl takes a duration .* got "-5s"/);
    expect(() => parseDuration('--wait', '5 days', true)).toThrow(/or "forever"/);
  });

  it('formats for messages', () => {
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('forever');
    expect(formatDuration(-3)).toBe('0ms');
    expect(formatDuration(999)).toBe('999ms');
    expect(formatDuration(1_234)).toBe('1.2s');
    expect(formatDuration(61_000)).toBe('1m 1s');
  });
});

describe('describeHolder and holderJson', () => {
  const info = {
    key: 'k',
    holder: 'host:42:node',
    count: 2,
    fencingToken: 7n,
    expiresAt: Date.now() + 24_000,
  };

  it('describes a holder in one line, and a free key as free', () => {
    expect(describeHolder(null)).toBe('free');
    expect(describeHolder(info)).toMatch(
      /^held by host:42:node \(fencing token 7, re-entered 2 times, lease ends in 2\d\.\ds\)$/,
    );
    expect(describeHolder({ ...info, count: 1, fencingToken: undefined })).toMatch(
      /^held by host:42:node \(lease ends in/,
    );
  });

  it('gives the JSON shape status and run print', () => {
    expect(holderJson('k', null)).toEqual({ key: 'k', held: false });
    const json = holderJson('k', info);
    expect(json).toMatchObject({ key: 'k', held: true, holder: 'host:42:node', count: 2 });
    expect(json.fencingToken).toBe(7n);
    expect(new Date(json.expiresAt as string).getTime()).toBe(info.expiresAt);
    expect(json.expiresInMs).toBeGreaterThan(20_000);
  });
});

describe('explainError', () => {
  it('maps each error class to its exit code and kind', () => {
    expect(explainError(new UsageError('bad'))).toEqual({
      exitCode: EXIT.USAGE,
      message: 'bad',
      kind: 'usage',
    });
    expect(explainError(new LockTimeoutError('k', 100))).toMatchObject({
      exitCode: EXIT.TIMEOUT,
      kind: 'timeout',
    });
    expect(explainError(new LockLostError('k', 'expired'))).toMatchObject({
      exitCode: EXIT.LOST,
      kind: 'lost',
    });
    // Never 1, which status and release answer with.
    expect(explainError(new Error('boom'))).toEqual({
      exitCode: EXIT.INTERNAL,
      message: 'unexpected failure: boom',
      kind: 'internal',
    });
  });

  it('explains a known root cause in words, keeps the driver message, hides the password', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    const wrapped = new LockBackendError(
      'redis',
      'acquire',
      new Error('retry', { cause: refused }),
    );
    const explained = explainError(wrapped, 'redis://user:secret@127.0.0.1:1');
    expect(explained.exitCode).toBe(EXIT.BACKEND);
    expect(explained.kind).toBe('backend');
    expect(explained.message).toBe(
      'cannot use the lock backend at redis://user:***@127.0.0.1:1: nothing is listening there (is the server running?) (connect ECONNREFUSED 127.0.0.1:1)',
    );
    expect(explained.message).not.toContain('secret');
    // A raw driver error with a known code, outside any LockError.
    expect(explainError(Object.assign(new Error('x'), { code: 'SQLITE_BUSY' }))).toMatchObject({
      exitCode: EXIT.BACKEND,
      message: expect.stringContaining('busy timeout'),
    });
    // An unknown cause: its own message.
    const odd = new LockBackendError('mysql', 'release', new Error('odd failure'));
    expect(explainError(odd).message).toBe('cannot use the lock backend: odd failure');
  });

  it('redacts only a password, and leaves what is not a URL alone', () => {
    expect(redact('mysql://root:pw@127.0.0.1/test')).toBe('mysql://root:***@127.0.0.1/test');
    expect(redact('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redact('not a url')).toBe('not a url');
    expect(redact('redlock:h1:6379,h2:6379?password=pw&prefix=a')).toBe(
      'redlock:h1:6379,h2:6379?password=***&prefix=a',
    );
    expect(redact('redis://u:pw@h:99999')).toBe('redis://u:***@h:99999');
  });
});

describe('demo state and views', () => {
  it('folds worker messages into progress, holder and verdict counts', () => {
    const state = new DemoState(2, 3);
    state.apply({ t: 'wait', w: 1 });
    state.apply({ t: 'enter', w: 0, token: '5' });
    expect(state.holder).toBe(0);
    state.apply({ t: 'leave', w: 0, token: '5', accepted: true });
    state.apply({ t: 'enter', w: 1, token: '6' });
    state.apply({ t: 'leave', w: 1, token: '6', accepted: false });
    state.apply({ t: 'done', w: 1, sections: 1, waits: 1 });
    state.apply({ t: 'wait', w: 9 }); // unknown worker: ignored
    expect(state).toMatchObject({ holder: undefined, lastHolder: 1, lastToken: '6' });
    expect(state).toMatchObject({ accepted: 1, rejected: 1, total: 6, done: 2, waits: 1 });
    expect(state.workers[1]!.finished).toBe(true);
  });

  it('follows the frozen worker: who wrote after it, and whether its late write landed', () => {
    const state = new DemoState(3, 5);
    state.apply({ t: 'enter', w: 1, token: '10' });
    state.apply({ t: 'freeze', w: 1, token: '10' });
    state.apply({ t: 'enter', w: 2, token: '9' }); // impossible, but not newer: ignored
    state.apply({ t: 'leave', w: 2, token: '9', accepted: true });
    expect(state.frozen).toMatchObject({ w: 1, supersededBy: undefined });
    state.apply({ t: 'leave', w: 0, token: '12', accepted: false }); // refused: not a write
    state.apply({ t: 'leave', w: 0, token: '13', accepted: true });
    state.apply({ t: 'leave', w: 2, token: '14', accepted: true }); // the first newer write counts
    state.apply({ t: 'leave', w: 1, token: '10', accepted: false });
    state.apply({ t: 'leave', w: 1, token: '15', accepted: true }); // its own later section
    expect(state.frozen).toEqual({
      w: 1,
      token: '10',
      supersededBy: '13',
      lateWriteAccepted: false,
    });
    expect(state).toMatchObject({ accepted: 4, rejected: 2 });
  });

  it('prints a plain line per tenth of progress (not per section), and redraws the live table in place', () => {
    const plainIo = captureIo();
    const plain = new PlainView(plainIo);
    const state = new DemoState(1, 20);
    for (let i = 0; i < 20; i++) {
      state.apply({ t: 'enter', w: 0, token: String(i + 1) });
      state.apply({ t: 'leave', w: 0, token: String(i + 1), accepted: true });
      plain.update(state);
    }
    plain.finish(state);
    const lines = plainIo.out().trim().split('\n');
    // Tenths 0 through 10: the first section, then one line each time another tenth is done.
    expect(lines).toHaveLength(11);
    expect(lines[0]).toMatch(/^progress 1\/20 sections/);
    expect(lines.at(-1)).toBe(
      'progress 20/20 sections, last holder worker 1, fencing token 20, waits 0',
    );

    const liveIo = captureIo();
    const live = new LiveView(liveIo);
    live.update(new DemoState(2, 4));
    live.finish(state);
    const text = liveIo.out();
    expect(text.startsWith('\x1b[2K')).toBe(true); // the first frame moves nothing, it clears
    expect(text).toContain('\x1b[4A'); // the second goes back over the 4 lines of the first
    expect(text).toContain('20/20 sections');
  });
});
