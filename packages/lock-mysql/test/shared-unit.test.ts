import type { LeaseAcquireRequest } from '@dlock/lock-core/spi';
import { describe, expect, it } from 'vitest';
import { schemaSql } from '../src/index.js';
import { schemaStatements } from '../src/schema.js';
import { decide } from '../src/shared/shared-decision.js';
import { SHARED_SUFFIXES, sharedTableName, sharedTables } from '../src/shared/shared-tables.js';
import type { SharedSnapshot } from '../src/shared/sql-shared-state.js';

const empty: SharedSnapshot = {
  limit: null,
  own: new Map(),
  others: new Map(),
  ownWaiters: new Map(),
  waiters: { others: 0, ahead: 0, aheadMinUs: Number.POSITIVE_INFINITY },
  expiredLeases: [],
  expiredWaiters: [],
};
const req = (o: Partial<LeaseAcquireRequest>): LeaseAcquireRequest => ({
  key: 'k',
  owner: 'me',
  kind: 'semaphore',
  ttlMs: 3_000,
  limit: 2,
  permits: 1,
  changeLimit: false,
  queue: false,
  ...o,
});

describe('shared-key table names', () => {
  it('derive from the lock table, in its database, quoted', () => {
    expect(sharedTables('app.locks')).toEqual({
      keys: '`app`.`locks_shared`',
      leases: '`app`.`locks_leases`',
      waiters: '`app`.`locks_waiters`',
    });
  });
  it('cut and hash a name too long for its suffix, so two long names stay apart', () => {
    const a = sharedTableName(`${'a'.repeat(60)}1`, SHARED_SUFFIXES.waiters);
    const b = sharedTableName(`${'a'.repeat(60)}2`, SHARED_SUFFIXES.waiters);
    expect(a).toHaveLength(64);
    expect(a).toMatch(/^a+_[0-9a-f]{8}_waiters$/);
    expect(a).not.toBe(b);
  });
  it('refuse an invalid lock table name', () => {
    expect(() => sharedTables('bad-name')).toThrow(
      expect.objectContaining({ code: 'DLOCK_ARGUMENT' }),
    );
  });
  it('are in the DDL, one statement each', () => {
    const statements = schemaStatements('locks');
    expect(statements).toHaveLength(5);
    expect(statements[1]).toContain('CREATE TABLE IF NOT EXISTS `locks_shared`');
    expect(statements[2]).toContain('PRIMARY KEY (`name`, `family`, `owner`, `kind`)');
    expect(schemaSql('locks')).toBe(statements.join(';\n\n'));
  });
});

describe('the shared-key decision', () => {
  it('grants a free key with the counter as token, storing the limit', () => {
    expect(decide(req({}), empty, 7n)).toEqual({
      type: 'grant',
      token: 7n,
      removeWaiter: false,
      limitUpdate: 2,
    });
  });
  it('refuses what does not fit, with the earliest expiry, capped at a third of the TTL when queued', () => {
    const full: SharedSnapshot = {
      ...empty,
      limit: 2,
      others: new Map([['semaphore', { permits: 2, count: 2, minUs: 2_500_000 }]]),
    };
    expect(decide(req({}), full, 9n)).toEqual({ type: 'refuse', retryAfterMs: 2_500 });
    expect(decide(req({ queue: true }), full, 9n)).toEqual({ type: 'refuse', retryAfterMs: 1_000 });
  });
  it('refuses a fitting request while another owner waits ahead', () => {
    const queued: SharedSnapshot = {
      ...empty,
      limit: 2,
      waiters: { others: 1, ahead: 1, aheadMinUs: 1_200 },
    };
    expect(decide(req({}), queued, 9n)).toEqual({ type: 'refuse', retryAfterMs: 2 });
  });
  it('a limit mismatch is refused only while someone holds or waits', () => {
    const held: SharedSnapshot = {
      ...empty,
      limit: 3,
      others: new Map([['semaphore', { permits: 1, count: 1, minUs: 1 }]]),
    };
    expect(decide(req({}), held, 1n)).toEqual({ type: 'limit', stored: 3 });
    expect(decide(req({ changeLimit: true }), held, 1n)).toMatchObject({
      type: 'grant',
      limitUpdate: 2,
    });
    expect(decide(req({}), { ...empty, limit: 3 }, 1n)).toMatchObject({
      type: 'grant',
      limitUpdate: 2,
    });
  });
  it('read-write: downgrade, upgrade, re-entry beside waiters', () => {
    const ownWrite: SharedSnapshot = {
      ...empty,
      own: new Map([['write', { permits: 1, count: 1, token: 5n, us: 1_000 }]]),
      waiters: { others: 1, ahead: 1, aheadMinUs: 10 },
    };
    expect(decide(req({ kind: 'read', limit: 1 }), ownWrite, 8n)).toMatchObject({
      type: 'grant',
      token: 8n,
    });
    expect(decide(req({ kind: 'write', limit: 1 }), ownWrite, 8n)).toMatchObject({
      type: 'reenter',
      token: 5n,
    });
    const ownRead: SharedSnapshot = {
      ...empty,
      own: new Map([['read', { permits: 1, count: 1, token: 5n, us: 1_000 }]]),
    };
    expect(decide(req({ kind: 'write', limit: 1 }), ownRead, 8n)).toEqual({ type: 'upgrade' });
    // An expired own read is no hold: the write is decided as any other.
    const expiredRead: SharedSnapshot = {
      ...empty,
      own: new Map([['read', { permits: 1, count: 1, token: 5n, us: -1 }]]),
    };
    expect(decide(req({ kind: 'write', limit: 1 }), expiredRead, 8n)).toMatchObject({
      type: 'grant',
    });
  });
});
