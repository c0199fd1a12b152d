import type { LockBackend } from '@dlock/lock-core';
import {
  type PrivateMariadb,
  requireMariadbBinaries,
  startPrivateMariadb,
  waitUntil,
} from '@dlock/test-utils';
import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchema, mysqlBackend } from '../src/index.js';

const binaries = await requireMariadbBinaries();

describe.skipIf(!binaries.available)(
  'elections across a database crash and restart (private mariadbd)',
  () => {
    let server: PrivateMariadb;
    const pools: Pool[] = [];
    const backends: LockBackend[] = [];
    const election = (mode: 'row' | 'get-lock') => {
      const pool = createPool({ uri: server.url, connectionLimit: 4, connectTimeout: 2_000 });
      pools.push(pool);
      const backend = mysqlBackend({ pool, mode, acquireTimeoutMs: 3_000 });
      backends.push(backend);
      return backend.election!;
    };

    beforeAll(async () => {
      server = await startPrivateMariadb();
      const pool = createPool({ uri: server.url, connectionLimit: 1 });
      await ensureSchema(pool);
      await pool.end();
    }, 60_000);
    afterAll(async () => {
      await Promise.allSettled(backends.map((b) => b.close()));
      await Promise.allSettled(pools.map((p) => p.end()));
      await server?.dispose();
    }, 30_000);

    it('a leader, its value and the term counter are committed rows: they survive, and terms keep increasing', async () => {
      const leading = election('get-lock');
      const resigned = 'restart:resigned';
      const live = 'restart:live';
      const first = await leading.campaign({
        key: resigned,
        owner: 'a',
        value: 'a',
        ttlMs: 60_000,
        queue: false,
      });
      expect(first.acquired).toBe(true);
      expect(await leading.resign({ key: resigned, owner: 'a' })).toBe('released');
      const held = await leading.campaign({
        key: live,
        owner: 'b',
        value: 'b:1',
        ttlMs: 60_000,
        queue: false,
      });
      expect(held.acquired).toBe(true);

      await server.crashAndRestart();

      const other = election('row');
      const leader = await waitUntil(() => other.leader(live).catch(() => null), {
        timeoutMs: 10_000,
        message: 'the pool reconnects and the leader is still there',
      });
      expect(leader).toMatchObject({ owner: 'b', value: 'b:1' });
      expect(held.acquired && leader.term === held.fencingToken).toBe(true);
      const rival = await other.campaign({
        key: live,
        owner: 'c',
        value: 'c',
        ttlMs: 5_000,
        queue: false,
      });
      expect(rival.acquired).toBe(false);

      const next = await other.campaign({
        key: resigned,
        owner: 'd',
        value: 'd',
        ttlMs: 5_000,
        queue: false,
      });
      expect(first.acquired && next.acquired && next.fencingToken > first.fencingToken).toBe(true);
      expect(await other.resign({ key: resigned, owner: 'd' })).toBe('released');
      expect(await other.resign({ key: live, owner: 'b' })).toBe('released');
    }, 90_000);
  },
);
