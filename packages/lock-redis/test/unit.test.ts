import { LockArgumentError } from '@dlock/lock-core';
import { describe, expect, it } from 'vitest';
import { redisBackend } from '../src/index.js';
import { keySlot } from '../src/key-slot.js';
import { lockKeys } from '../src/redis-backend.js';

// Runs without any server: pure functions and option validation.
describe('key derivation (no server)', () => {
  it('computes Redis Cluster slots, hash tags included', () => {
    // Reference values from the Redis Cluster specification and CLUSTER KEYSLOT.
    expect(keySlot('123456789')).toBe(12739);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).toBe(keySlot('foo{}{bar}')); // empty tag: whole key hashed
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });

  it('gives the three names of a lock one slot, whatever braces the key contains', () => {
    for (const key of ['plain', '{', '}', '{}', '{a}b', 'a}{b', '}{', '🔒{x}', 'x'.repeat(512)]) {
      const k = lockKeys('dlock:', key);
      expect(keySlot(k.fence), key).toBe(keySlot(k.lock));
      expect(keySlot(k.channel), key).toBe(keySlot(k.lock));
      expect(k.lock.startsWith('dlock:{')).toBe(true);
      expect(k.lock.endsWith(`:lock:${key}`)).toBe(true);
    }
  });

  it('never gives two keys the same names', () => {
    const names = new Set<string>();
    for (const key of ['a', 'b', 'a:lock:b', '{a}', 'a}', 'lock', 'fence']) {
      const k = lockKeys('p:', key);
      for (const name of [k.lock, k.fence, k.channel]) {
        expect(names.has(name)).toBe(false);
        names.add(name);
      }
    }
  });

  it('rejects bad options synchronously with LockArgumentError', () => {
    const fake = { defineCommand() {} } as never;
    expect(() => redisBackend({ client: fake, prefix: 'x{' })).toThrow(LockArgumentError);
    expect(() => redisBackend({ client: fake, pubsub: 'fast' as never })).toThrow(
      LockArgumentError,
    );
    expect(() => redisBackend({ client: fake, waitForReplicasTimeoutMs: 0 })).toThrow(
      LockArgumentError,
    );
    expect(() => redisBackend({ client: fake, commandTimeoutMs: -5 })).toThrow(LockArgumentError);
    expect(() => redisBackend(undefined as never)).toThrow(LockArgumentError);
  });
});
