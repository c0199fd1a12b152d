import { LockClosedError } from '@dlock/lock-core';
import type {
  AcquireRequest,
  AcquireResult,
  CampaignRequest,
  ElectionBackend,
  LeaderState,
  OwnerRef,
  ReleaseResult,
} from '@dlock/lock-core/spi';
import { keyBytes, ownerBytes } from '../keys.js';
import { micros } from '../server-time.js';
import { extendRow, extendSql } from '../sql-extend.js';
import { decodeRelease } from '../sql-release.js';
import { insertIdOf, type SqlRunner } from '../sql-runner.js';
import { campaignSql, campaignValues, decodeCampaign } from './sql-campaign.js';
import { decodeLeader, type LeaderRow, leaderSql, proclaimSql, resignSql } from './sql-election.js';

/**
 * Leader elections on MySQL/MariaDB, in every mode: one row per election name in the election
 * table (`electionTable`), with the leader's owner, value, term and a lease on the server's
 * clock. `GET_LOCK` cannot carry a value or a term (`IS_USED_LOCK` gives only a connection id)
 * and a held connection per leader buys nothing a lease does not, so the connection-bound modes
 * use the table too. Every operation is one statement; nothing pins a connection while leading.
 *
 * No candidate queue: after a leader goes, whoever campaigns first wins (`queue` is ignored and
 * `abandon` has nothing to remove). No watch: waiting candidates and observers poll, bounded by
 * the leader's remaining lease.
 *
 * `isClosed` is the owning backend's state: every operation refuses with `LockClosedError` once
 * it was closed.
 */
export function electionBackend(
  sql: SqlRunner,
  elections: string,
  isClosed: () => boolean,
): ElectionBackend {
  const statements = {
    campaign: campaignSql(elections),
    extend: extendSql(elections),
    proclaim: proclaimSql(elections),
    resign: resignSql(elections),
    leader: leaderSql(elections),
  };
  const open = (): void => {
    if (isClosed()) throw new LockClosedError('The mysql backend is closed');
  };

  return {
    capabilities: { watch: false, nativeWait: false, batchExtend: false },

    async campaign({ key, owner, ttlMs, value }: CampaignRequest): Promise<AcquireResult> {
      open();
      const values = campaignValues(
        keyBytes(key),
        ownerBytes(owner),
        Buffer.from(value, 'utf8'),
        micros(ttlMs),
      );
      const written = await sql.write('campaign', statements.campaign, values, key);
      return decodeCampaign(written, ttlMs);
    },

    async extend(request: AcquireRequest): Promise<boolean> {
      open();
      return extendRow(sql, 'electionExtend', statements.extend, request);
    },

    async proclaim({ key, owner, value }: OwnerRef & { readonly value: string }): Promise<boolean> {
      open();
      const values = [Buffer.from(value, 'utf8'), keyBytes(key), ownerBytes(owner)];
      return insertIdOf(await sql.write('proclaim', statements.proclaim, values, key)) > 0n;
    },

    async resign({ key, owner }: OwnerRef): Promise<ReleaseResult> {
      open();
      const values = [keyBytes(key), ownerBytes(owner)];
      return decodeRelease(await sql.write('resign', statements.resign, values, key));
    },

    async abandon(): Promise<boolean> {
      // No candidate queue: a candidate leaves nothing on the server until it is granted.
      open();
      return false;
    },

    async leader(key: string): Promise<LeaderState | null> {
      open();
      const rows = await sql.rows<LeaderRow>('leader', statements.leader, [keyBytes(key)], key);
      return decodeLeader(rows);
    },
  };
}
