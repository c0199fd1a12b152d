import { type LockBackend, LockClosedError } from '@dlock/lock-core';
import type { AcquireResult, ElectionBackend } from '@dlock/lock-core/spi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELECTION_SUFFIX } from '../src/election/election-table.js';
import { type MysqlLockMode, mysqlBackend } from '../src/index.js';
import { sharedTableName } from '../src/shared/shared-tables.js';
import { asPool, requireMysql, testPool } from './helpers/mysql.js';
import { sharedTempTables } from './helpers/shared.js';

const mysql = await requireMysql();

/** The term a grant carries (fails the test on a refusal). */
function termOf(result: AcquireResult): bigint {
  expect(result.acquired).toBe(true);
  return result.acquired ? result.fencingToken : -1n;
}

// Elections are rows on the server clock whatever the mutex mode: the tests run in each.
for (const mode of ['row', 'for-update', 'get-lock'] satisfies MysqlLockMode[]) {
  describe.skipIf(!mysql.available)(`mysql ${mode}: elections (SPI level)`, () => {
    const pool = testPool();
    let table = '';
    let drop = async () => {};
    const backends: LockBackend[] = [];
    const make = (): { backend: LockBackend; election: ElectionBackend } => {
      const backend = mysqlBackend({ pool: asPool(pool), mode, table });
      backends.push(backend);
      expect(backend.election).toBeDefined();
      return { backend, election: backend.election! };
    };
    /** The election table, unquoted, for direct fault injection. */
    const elections = () => sharedTableName(table, ELECTION_SUFFIX);
    /** Ends `name`'s lease on the server clock now: an expiry without waiting for one. */
    const expire = (name: string) =>
      pool.query(
        `UPDATE \`${elections()}\` SET \`expires_at\` = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE \`name\` = ?`,
        [Buffer.from(name, 'utf8')],
      );
    const row = async (name: string) => {
      const [rows] = await pool.query(
        `SELECT \`owner\`, \`value\`, \`count\`, CAST(\`term\` AS CHAR) AS \`term\` FROM \`${elections()}\` WHERE \`name\` = ?`,
        [Buffer.from(name, 'utf8')],
      );
      return (rows as { owner: Buffer | null; value: Buffer | null; term: string }[])[0];
    };
    const campaign = (election: ElectionBackend, key: string, owner: string, value = owner) =>
      election.campaign({ key, owner, value, ttlMs: 30_000, queue: false });

    beforeAll(async () => {
      ({ name: table, drop } = await sharedTempTables(pool, `el_${mode.replace('-', '_')}`));
    });
    afterAll(async () => {
      await Promise.allSettled(backends.map((b) => b.close()));
      await drop();
      await pool.end();
    });

    it('declares polling only: no watch, no native wait, no batch renewal', () => {
      expect(make().election.capabilities).toEqual({
        watch: false,
        nativeWait: false,
        batchExtend: false,
      });
    });

    it('grants one leader with its value and term, refuses the others with its remaining lease', async () => {
      const [a, b] = [make().election, make().election];
      const key = 'grant';
      const term = termOf(await campaign(a, key, 'alice', 'alice:8080'));
      const refused = await campaign(b, key, 'bob');
      expect(refused.acquired).toBe(false);
      if (!refused.acquired) {
        expect(refused.retryAfterMs).toBeGreaterThan(10_000);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(30_000);
      }
      const leader = await b.leader(key);
      expect(leader).toMatchObject({ owner: 'alice', value: 'alice:8080', term });
      expect(leader!.ttlMs).toBeGreaterThan(10_000);
      expect(leader!.ttlMs).toBeLessThanOrEqual(30_000);
      expect(await a.resign({ key, owner: 'alice' })).toBe('released');
    });

    it('lets only one of many simultaneous candidates lead', async () => {
      const candidates = Array.from({ length: 12 }, () => make().election);
      const results = await Promise.all(
        candidates.map((c, i) => campaign(c, 'race', `candidate-${i}`)),
      );
      const winners = results.flatMap((r, i) => (r.acquired ? [i] : []));
      expect(winners).toHaveLength(1);
      const leader = await candidates[0]!.leader('race');
      expect(leader).toMatchObject({
        owner: `candidate-${winners[0]}`,
        value: `candidate-${winners[0]}`,
      });
      expect(await candidates[0]!.resign({ key: 'race', owner: leader!.owner })).toBe('released');
    });

    it('a re-campaign by the leader re-enters with the same term and proclaims the new value', async () => {
      const { election } = make();
      const key = 'recampaign';
      const term = termOf(await campaign(election, key, 'alice', 'v1'));
      const again = await campaign(election, key, 'alice', 'v2');
      expect(again).toMatchObject({ acquired: true, reentered: true, fencingToken: term });
      expect(await election.leader(key)).toMatchObject({ value: 'v2', term });
      expect(await election.resign({ key, owner: 'alice' })).toBe('decremented');
      expect(await election.leader(key)).toMatchObject({ owner: 'alice', value: 'v2' });
      expect(await election.resign({ key, owner: 'alice' })).toBe('released');
      expect(await election.leader(key)).toBeNull();
    });

    it('proclaims owner-checked, keeping the term; a deposed leader cannot proclaim', async () => {
      const [a, b] = [make().election, make().election];
      const key = 'proclaim';
      const term = termOf(await campaign(a, key, 'alice', 'old'));
      expect(await a.proclaim({ key, owner: 'alice', value: 'new' })).toBe(true);
      // The same value again is still a match (zero rows "changed" must not read as a miss).
      expect(await a.proclaim({ key, owner: 'alice', value: 'new' })).toBe(true);
      expect(await b.proclaim({ key, owner: 'bob', value: 'usurped' })).toBe(false);
      expect(await b.leader(key)).toMatchObject({ owner: 'alice', value: 'new', term });
      await expire(key);
      expect(await a.proclaim({ key, owner: 'alice', value: 'late' })).toBe(false);
      expect(await b.leader(key)).toBeNull();
    });

    it('resign leaves only the term; the next leader gets a larger one', async () => {
      const [a, b] = [make().election, make().election];
      const key = 'resign';
      const first = termOf(await campaign(a, key, 'alice'));
      expect(await b.resign({ key, owner: 'bob' })).toBe('not-held');
      expect(await a.resign({ key, owner: 'alice' })).toBe('released');
      expect(await a.resign({ key, owner: 'alice' })).toBe('not-held');
      expect(await b.leader(key)).toBeNull();
      const left = await row(key);
      expect(left).toMatchObject({ owner: null, value: null, term: first.toString() });
      const second = termOf(await campaign(b, key, 'bob'));
      expect(second).toBeGreaterThan(first);
      expect(await b.resign({ key, owner: 'bob' })).toBe('released');
    });

    it('an expired leader is no leader: extend fails, a rival is granted a larger term', async () => {
      const [a, b] = [make().election, make().election];
      const key = 'expiry';
      const first = termOf(await campaign(a, key, 'alice'));
      expect(await a.extend({ key, owner: 'alice', ttlMs: 30_000 })).toBe(true);
      expect(await b.extend({ key, owner: 'bob', ttlMs: 30_000 })).toBe(false);
      await expire(key);
      expect(await a.leader(key)).toBeNull();
      expect(await a.extend({ key, owner: 'alice', ttlMs: 30_000 })).toBe(false);
      expect(await a.leader(key)).toBeNull(); // the failed renewal revived nothing
      const second = termOf(await campaign(b, key, 'bob', 'bob-value'));
      expect(second).toBeGreaterThan(first);
      expect(await a.leader(key)).toMatchObject({ owner: 'bob', value: 'bob-value', term: second });
      expect(await a.resign({ key, owner: 'alice' })).toBe('not-held');
      // The expired leader campaigning again is a new leader, not a re-entry of its old term.
      expect(await b.resign({ key, owner: 'bob' })).toBe('released');
      const third = await campaign(a, key, 'alice');
      expect(third).toMatchObject({ acquired: true, reentered: false });
      expect(termOf(third)).toBeGreaterThan(second);
      expect(await a.resign({ key, owner: 'alice' })).toBe('released');
    });

    it('terms keep increasing after the row was lost or its counter reset', async () => {
      const { election } = make();
      const key = 'lost-row';
      const name = Buffer.from(key, 'utf8');
      let last = termOf(await campaign(election, key, 'a0'));
      expect(await election.resign({ key, owner: 'a0' })).toBe('released');
      for (const [i, fault] of [
        `DELETE FROM \`${elections()}\` WHERE \`name\` = ?`,
        `UPDATE \`${elections()}\` SET \`term\` = 0 WHERE \`name\` = ?`,
      ].entries()) {
        await pool.query(fault, [name]);
        const term = termOf(await campaign(election, key, `a${i + 1}`));
        expect(term).toBeGreaterThan(last);
        last = term;
        expect(await election.resign({ key, owner: `a${i + 1}` })).toBe('released');
      }
    });

    it('is a namespace of its own: election "x" never meets lock, semaphore or read-write "x"', async () => {
      const { backend, election } = make();
      const key = 'namespace';
      termOf(await campaign(election, key, 'leader'));
      expect(await backend.tryAcquire({ key, owner: 'locker', ttlMs: 30_000 })).toMatchObject({
        acquired: true,
      });
      const lease = { key, owner: 'sharer', ttlMs: 30_000, limit: 1, permits: 1 };
      for (const kind of ['semaphore', 'write'] as const) {
        const got = await backend.shared!.tryAcquire({
          ...lease,
          kind,
          changeLimit: false,
          queue: false,
        });
        expect(got.acquired, kind).toBe(true);
        expect(await backend.shared!.release({ key, owner: 'sharer', kind })).toBe('released');
      }
      expect(await election.leader(key)).toMatchObject({ owner: 'leader' });
      expect((await backend.inspect(key))?.owner).toBe('locker');
      expect(await backend.release({ key, owner: 'locker' })).toBe('released');
      expect(await election.leader(key)).toMatchObject({ owner: 'leader' });
      expect(await election.resign({ key, owner: 'leader' })).toBe('released');
    });

    it('keeps names and values exact: SQL metacharacters, case, non-ASCII, a 4 KiB value', async () => {
      const { election } = make();
      const names = [
        "'; DROP TABLE x; --",
        '%',
        '_',
        'Case',
        'case',
        'é',
        'e\u0301',
        '🔒'.repeat(100),
      ];
      const big = 'ü'.repeat(2048); // 4096 UTF-8 bytes
      for (const [i, key] of names.entries()) {
        const value = i === 0 ? big : `${key} ${i} \u0000 "quoted" \`tick\``;
        termOf(await campaign(election, key, `owner-${i}`, value));
      }
      for (const [i, key] of names.entries()) {
        const leader = await election.leader(key);
        expect(leader?.owner, JSON.stringify(key)).toBe(`owner-${i}`);
        expect(leader?.value).toBe(i === 0 ? big : `${key} ${i} \u0000 "quoted" \`tick\``);
        expect(await election.resign({ key, owner: `owner-${i}` })).toBe('released');
      }
    });

    it('has no candidate queue: abandon removes nothing, and queue: true leaves nothing behind', async () => {
      const [a, b] = [make().election, make().election];
      const key = 'no-queue';
      termOf(await campaign(a, key, 'alice'));
      const refused = await b.campaign({
        key,
        owner: 'bob',
        value: 'bob',
        ttlMs: 30_000,
        queue: true,
      });
      expect(refused.acquired).toBe(false);
      expect(await b.abandon({ key, owner: 'bob' })).toBe(false);
      expect(await a.resign({ key, owner: 'alice' })).toBe('released');
      expect(await b.leader(key)).toBeNull();
    });

    it('refuses every operation once closed, before any I/O', async () => {
      const { backend, election } = make();
      await backend.close();
      const key = 'closed';
      const calls = [
        () => campaign(election, key, 'x'),
        () => election.extend({ key, owner: 'x', ttlMs: 1_000 }),
        () => election.proclaim({ key, owner: 'x', value: 'v' }),
        () => election.resign({ key, owner: 'x' }),
        () => election.abandon({ key, owner: 'x' }),
        () => election.leader(key),
      ];
      for (const call of calls) await expect(call()).rejects.toBeInstanceOf(LockClosedError);
      expect(await row(key)).toBeUndefined();
    });
  });
}
