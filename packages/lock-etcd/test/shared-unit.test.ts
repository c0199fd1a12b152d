/** The shared keys' layout and grant rules, without etcd. */
import { describe, expect, it } from 'vitest';
import type { StoredKey } from '../src/driver.js';
import { isContender } from '../src/keys.js';
import {
  decodeReadWrite,
  decodeSemaphore,
  encodeReadWrite,
  encodeSemaphore,
  isSharedContender,
  type ReadWriteValue,
  type SemaphoreValue,
  sharedContenderKey,
  sharedQueue,
} from '../src/shared-keys.js';
import { readWriteGrants, semaphoreGrants, semaphoreLimit } from '../src/shared-rules.js';

const stored = (n: number): StoredKey => ({
  key: `q${n}`,
  value: '',
  createRevision: BigInt(n),
  modRevision: BigInt(n),
  lease: '1',
});
const sem = (permits: number, limit = 3): { stored: StoredKey; value: SemaphoreValue } => ({
  stored: stored(permits),
  value: { owner: 'o', count: 1, permits, limit, queued: false, foreign: false },
});
const rw = (mode: 'read' | 'write'): { stored: StoredKey; value: ReadWriteValue } => ({
  stored: stored(1),
  value: {
    owner: 'o',
    mode,
    read: mode === 'read' ? 1 : 0,
    write: mode === 'write' ? 1 : 0,
    queued: false,
    foreign: false,
  },
});

describe('shared key layout', () => {
  it('puts semaphores and read-write locks under prefixes of their own, never as mutex contenders', () => {
    expect(sharedQueue('dlock/', 'semaphore', 'jobs')).toBe('dlock/sem/jobs/');
    expect(sharedQueue('dlock/', 'read-write', 'jobs')).toBe('dlock/rw/jobs/');
    const key = sharedContenderKey('dlock/sem/jobs/', '7587872880884499002', 26);
    expect(key).toBe('dlock/sem/jobs/q694d8a2ed1f0c23a_1a');
    expect(isSharedContender('dlock/sem/jobs/', key)).toBe(true);
    // The mutex named `sem/jobs` queues under the same prefix and must not take it for its own.
    expect(isContender('dlock/sem/jobs/', key)).toBe(false);
    // A nested name's keys are not this key's contenders.
    expect(isSharedContender('dlock/sem/jobs/', 'dlock/sem/jobs/a/q1_1')).toBe(false);
    expect(isSharedContender('dlock/sem/jobs/', 'dlock/sem/jobs/694d8a2ed1f0c23a_1a')).toBe(false);
  });

  it('round-trips values, and reads anything else as blocking everyone', () => {
    const s = { owner: 'a', count: 2, permits: 3, limit: 4, queued: true };
    expect(decodeSemaphore(encodeSemaphore(s), '1')).toEqual({ ...s, foreign: false });
    const r = { owner: 'a', mode: 'write' as const, read: 1, write: 1, queued: false };
    expect(decodeReadWrite(encodeReadWrite(r), '1')).toEqual({ ...r, foreign: false });
    expect(decodeSemaphore('', '255')).toMatchObject({
      owner: 'etcd-lease:ff',
      permits: Number.POSITIVE_INFINITY,
      foreign: true,
    });
    expect(decodeReadWrite('{"owner":"a"}', '255')).toMatchObject({ mode: 'write', foreign: true });
  });
});

describe('grant rules', () => {
  it('semaphore: granted while the permits up to and including its own fit (strict FIFO)', () => {
    expect(semaphoreGrants([sem(1), sem(1), sem(1), sem(1)], 3)).toEqual([true, true, true, false]);
    // A big request blocks the small ones behind it, though they would fit.
    expect(semaphoreGrants([sem(1), sem(3), sem(1)], 3)).toEqual([true, false, false]);
    expect(semaphoreGrants([sem(2), sem(1)], 3)).toEqual([true, true]);
    expect(semaphoreLimit([sem(1, 5), sem(1, 3)])).toBe(5);
    expect(semaphoreLimit([])).toBeNaN();
  });

  it('read-write: readers until the first writer; a writer only when first', () => {
    expect(readWriteGrants([rw('read'), rw('read'), rw('write'), rw('read')])).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(readWriteGrants([rw('write'), rw('read'), rw('write')])).toEqual([true, false, false]);
    expect(readWriteGrants([rw('read'), rw('write')])).toEqual([true, false]);
  });
});
