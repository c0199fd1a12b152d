import { LockArgumentError } from '@dlock/lock-core';
import { describe, expect, it } from 'vitest';
import { candidateKey, electorKey, isCandidate } from '../src/election-keys.js';
import { etcdBackend } from '../src/index.js';
import {
  contenderKey,
  decodeHolder,
  encodeHolder,
  heldBy,
  isContender,
  leaseHex,
  prefixRangeEnd,
  queuePrefix,
} from '../src/keys.js';

describe('key layout (etcd concurrency.Mutex)', () => {
  it('names contenders <prefix><key>/<lease id in lowercase hex>_<sequence in hex>', () => {
    expect(queuePrefix('', 'jobs')).toBe('jobs/');
    expect(queuePrefix('dlock/', 'jobs')).toBe('dlock/jobs/');
    expect(leaseHex('7587872880884499002')).toBe('694d8a2ed1f0c23a');
    expect(contenderKey('jobs/', '7587872880884499002', 26)).toBe('jobs/694d8a2ed1f0c23a_1a');
  });

  it('tells contenders of a lock from keys of a lock nested under it', () => {
    expect(isContender('a/', 'a/1f')).toBe(true);
    expect(isContender('a/', 'a/1f_2')).toBe(true);
    expect(isContender('a/', 'a/1f_')).toBe(false);
    expect(isContender('a/', 'a/b/1f_2')).toBe(false);
    expect(isContender('a/', 'a/b/1f')).toBe(false);
    expect(isContender('a/', 'a/')).toBe(false);
    expect(isContender('a/', 'a/XYZ')).toBe(false);
    // Where elections write, bare hex keys are candidates and side records, not contenders.
    expect(isContender('p/elect/x/', 'p/elect/x/1f', 'p/')).toBe(false);
    expect(isContender('p/electors/x/', 'p/electors/x/1f', 'p/')).toBe(false);
    expect(isContender('p/elect/x/', 'p/elect/x/1f_2', 'p/')).toBe(true);
    expect(isContender('p/electx/', 'p/electx/1f', 'p/')).toBe(true);
    expect(isContender('p/elect/x/', 'p/elect/x/1f')).toBe(true);
  });

  it('computes etcd prefix range ends', () => {
    expect(prefixRangeEnd(Buffer.from('a/'))).toEqual(Buffer.from('a0'));
    expect(prefixRangeEnd(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixRangeEnd(Buffer.from([0xff]))).toEqual(Buffer.from([0]));
  });
});

describe('holder value', () => {
  it('round-trips owner and count as JSON', () => {
    const value = encodeHolder('host:1:abc#secret', 2);
    expect(JSON.parse(value)).toEqual({ owner: 'host:1:abc#secret', count: 2 });
    expect(decodeHolder(value, '5')).toEqual({
      owner: 'host:1:abc#secret',
      count: 2,
      foreign: false,
    });
  });

  it('reads keys of other Mutex users (etcdctl stores "") as a foreign holder nobody matches', () => {
    const holder = decodeHolder('', '255');
    expect(holder).toEqual({ owner: 'etcd-lease:ff', count: 1, foreign: true });
    expect(heldBy(holder, 'etcd-lease:ff')).toBe(false);
    expect(decodeHolder('{"owner":"x","count":0}', '1').foreign).toBe(true);
    expect(decodeHolder('{"owner":"","count":1}', '1').foreign).toBe(true);
    expect(decodeHolder('[1]', '1').foreign).toBe(true);
  });
});

describe('etcdBackend options', () => {
  const client = { kv: { txn() {} }, lease() {}, watch() {}, leaseClient: {} } as never;
  it.each([
    ['no options', undefined],
    ['no client', {}],
    ['not a client', { client: {} }],
    ['unknown option', { client, ttl: 5 }],
    ['prefix not a string', { client, prefix: 5 }],
    ['sessionTtlMs too small', { client, sessionTtlMs: 999 }],
    ['sessionTtlMs fractional', { client, sessionTtlMs: 1500.5 }],
    ['requestTimeoutMs zero', { client, requestTimeoutMs: 0 }],
  ])('rejects %s with LockArgumentError', (_what, options) => {
    expect(() => etcdBackend(options as never)).toThrow(LockArgumentError);
  });

  it("names election keys as etcd's Election does, and counts only bare hex candidates", () => {
    const key = candidateKey('p/', 'jobs', '7587893063185186061');
    expect(key).toBe('p/elect/jobs/694d9c89e0cdbd0d');
    expect(electorKey('p/', 'jobs', key)).toBe('p/electors/jobs/694d9c89e0cdbd0d');
    expect(isCandidate('p/elect/jobs/', key)).toBe(true);
    expect(isCandidate('p/elect/jobs/', 'p/elect/jobs/694c_1')).toBe(false);
    expect(isCandidate('p/elect/jobs/', 'p/elect/jobs/a/694c')).toBe(false);
    expect(isCandidate('p/elect/jobs/', 'p/elect/jobs/')).toBe(false);
  });

  it('declares whole-second TTLs, its native wait queue, listing, several keys per transaction and elections', () => {
    const backend = etcdBackend({ client });
    expect(backend.capabilities).toEqual({
      watch: true,
      nativeWait: true,
      ttlGranularityMs: 1000,
      batchExtend: true,
      list: true,
      maxManyKeys: 60,
    });
    expect(backend.election?.capabilities).toEqual({
      watch: true,
      nativeWait: true,
      batchExtend: false,
    });
  });
});
