import type {
  AcquireResult,
  CampaignRequest,
  ElectionBackend,
  LeaderState,
  OwnerRef,
  ReleaseResult,
} from '@dlock/lock-core/spi';
import { expiryFor, releaseHold, renewTransaction } from '../hold-steps.js';
import type { Runner } from '../shared-backend.js';
import type { SqliteConnection } from '../sqlite-connection.js';
import { waiterLease } from '../waiter-lease.js';
import { wallMicros } from '../wall-micros.js';
import { createElectionSchema, type ElectionTables } from './election-schema.js';

interface ElectionRow {
  owner: string | null;
  value: string | null;
  count: number;
  term: bigint;
  expires_at: number;
}

interface CandidateRow {
  seq: number;
  owner: string;
  expires_at: number;
}

/**
 * Leader elections on the SQLite file (the SPI's {@link ElectionBackend}). Every operation is one
 * `BEGIN IMMEDIATE` transaction, serialised across every process on the file, with expiry on the
 * wall clock read inside it (as the locks). One row per name holds the leader and its value
 * together, so nobody ever reads a leader without its value, and the name's last term, which
 * stays when the leader goes.
 *
 * A term is `MAX(last term + 1, wall clock in µs)`: the row's counter never goes back, and a row
 * lost with the last commits (`synchronous: 'normal'`, a restored backup) restarts above every
 * earlier term, the same floor the locks' fencing counter has.
 *
 * Candidates that will wait keep an entry in a FIFO queue with a waiter lease (as the shared
 * keys' queue): leadership passes in arrival order. There is no notification between processes:
 * candidates and observers poll.
 */
export function createElectionBackend(
  db: SqliteConnection,
  tables: ElectionTables,
  clock: () => number,
  run: Runner,
): ElectionBackend {
  createElectionSchema(db, tables);
  const { elections, candidates } = tables;

  const select = db
    .prepare<[string], { [K in keyof ElectionRow]: ElectionRow[K] | bigint }>(
      `SELECT owner, value, count, term, expires_at FROM ${elections} WHERE name = ?`,
    )
    .safeIntegers(true);
  const grant = db.prepare<[string, string, string, bigint, number]>(
    `INSERT INTO ${elections} (name, owner, value, count, term, expires_at) VALUES (?, ?, ?, 1, ?, ?)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, value = excluded.value, count = 1,
       term = excluded.term, expires_at = excluded.expires_at`,
  );
  const reenter = db.prepare<[number, string, string]>(
    `UPDATE ${elections} SET count = count + 1, expires_at = ?, value = ? WHERE name = ?`,
  );
  const renew = db.prepare<[number, string, string, number]>(
    `UPDATE ${elections} SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?`,
  );
  const setValue = db.prepare<[string, string, string, number]>(
    `UPDATE ${elections} SET value = ? WHERE name = ? AND owner = ? AND expires_at > ?`,
  );
  const decrement = db.prepare<[string]>(
    `UPDATE ${elections} SET count = count - 1 WHERE name = ?`,
  );
  // Only the term stays: nothing a reader could mistake for a leader.
  const vacate = db.prepare<[string]>(
    `UPDATE ${elections} SET owner = NULL, value = NULL, count = 0, expires_at = 0 WHERE name = ?`,
  );
  const selectCandidates = db
    .prepare<[string], { seq: bigint; owner: string; expires_at: bigint }>(
      `SELECT seq, owner, expires_at FROM ${candidates} WHERE name = ? ORDER BY seq`,
    )
    .safeIntegers(true);
  const purgeCandidates = db.prepare<[string, number]>(
    `DELETE FROM ${candidates} WHERE name = ? AND expires_at <= ?`,
  );
  const upsertCandidate = db.prepare<[string, string, number]>(
    `INSERT INTO ${candidates} (name, owner, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (name, owner) DO UPDATE SET expires_at = excluded.expires_at`,
  );
  const deleteCandidate = db.prepare<[string, string]>(
    `DELETE FROM ${candidates} WHERE name = ? AND owner = ?`,
  );

  const read = (name: string): ElectionRow | undefined => {
    const row = select.get(name);
    if (!row) return undefined;
    return {
      owner: row.owner as string | null,
      value: row.value as string | null,
      count: Number(row.count),
      term: row.term as bigint,
      expires_at: Number(row.expires_at),
    };
  };
  const readCandidates = (name: string, now: number): CandidateRow[] => {
    purgeCandidates.run(name, now);
    return selectCandidates.all(name).map((row) => ({
      seq: Number(row.seq),
      owner: row.owner,
      expires_at: Number(row.expires_at),
    }));
  };
  // The row's leader, unless it resigned or its lease ran out.
  const liveLeader = (row: ElectionRow | undefined, now: number): ElectionRow | undefined =>
    row !== undefined && row.owner !== null && row.expires_at > now ? row : undefined;

  const campaignTx = db.transaction((r: CampaignRequest): AcquireResult => {
    const now = clock();
    const row = read(r.key);
    const queued = readCandidates(r.key, now);
    const entry = queued.find((c) => c.owner === r.owner);
    const leader = liveLeader(row, now);
    if (leader?.owner === r.owner) {
      // Re-campaign: same term, one more hold, the lease never shortened, the new value proclaimed.
      const expiresAt = Math.max(leader.expires_at, expiryFor(now, r.ttlMs));
      reenter.run(expiresAt, r.value, r.key);
      if (entry) deleteCandidate.run(r.key, r.owner);
      return {
        acquired: true,
        fencingToken: leader.term,
        reentered: true,
        ttlMs: expiresAt - now - 1,
      };
    }
    const ahead = queued.filter((c) => c.owner !== r.owner && (!entry || c.seq < entry.seq));
    if (!leader && ahead.length === 0) {
      const floor = wallMicros();
      const next = row ? row.term + 1n : floor;
      const term = next > floor ? next : floor;
      grant.run(r.key, r.owner, r.value, term, expiryFor(now, r.ttlMs));
      if (entry) deleteCandidate.run(r.key, r.owner);
      return { acquired: true, fencingToken: term, reentered: false, ttlMs: r.ttlMs };
    }
    const { recheckMs, refresh } = waiterLease(entry, now, r.ttlMs);
    if (r.queue && refresh) {
      upsertCandidate.run(r.key, r.owner, expiryFor(now, r.ttlMs));
    }
    // When something may change: the leader's or the first candidate's ahead expiry.
    let soonest = leader ? leader.expires_at : Number.POSITIVE_INFINITY;
    for (const c of ahead) soonest = Math.min(soonest, c.expires_at);
    let retryAfterMs = Math.max(0, soonest - now);
    if (r.queue) retryAfterMs = Math.min(retryAfterMs, recheckMs);
    return { acquired: false, retryAfterMs };
  });

  const extendTx = renewTransaction(db, clock, renew);

  const resignTx = db.transaction(
    ({ key, owner }: OwnerRef): ReleaseResult =>
      releaseHold(
        liveLeader(read(key), clock()),
        owner,
        () => decrement.run(key),
        () => vacate.run(key),
      ),
  );

  const abandonTx = db.transaction(
    ({ key, owner }: OwnerRef): boolean => deleteCandidate.run(key, owner).changes > 0,
  );

  const leaderTx = db.transaction((key: string): LeaderState | null => {
    const now = clock();
    const leader = liveLeader(read(key), now);
    if (!leader) return null;
    return {
      owner: leader.owner!,
      value: leader.value ?? '',
      term: leader.term,
      // `expires_at` is the first millisecond the lease no longer covers (see `expiryFor`): as
      // the grant and a re-campaign report it, the remaining lease ends the millisecond before.
      ttlMs: leader.expires_at - now - 1,
    };
  });

  // Queue entries of candidates that died would otherwise stay forever (their rows are tiny, but
  // nothing else deletes them once nobody campaigns for the name again).
  db.prepare<[number]>(`DELETE FROM ${candidates} WHERE expires_at <= ?`).run(clock());

  return {
    capabilities: { watch: false, nativeWait: false, batchExtend: true },
    campaign: (request) =>
      run('election.campaign', request.key, () => campaignTx.immediate(request)),
    extend: (request) =>
      run('election.extend', request.key, () => extendTx.immediate([request])[0]!),
    extendMany: (requests) =>
      run('election.extendMany', undefined, () => extendTx.immediate(requests)),
    proclaim: ({ key, owner, value }) =>
      run('election.proclaim', key, () => setValue.run(value, key, owner, clock()).changes === 1),
    resign: (request) => run('election.resign', request.key, () => resignTx.immediate(request)),
    abandon: (request) => run('election.abandon', request.key, () => abandonTx.immediate(request)),
    // One WAL snapshot, no write lock: reading the leader never blocks a campaign.
    leader: (key) => run('election.leader', key, () => leaderTx.deferred(key)),
  };
}
