/**
 * The election scenarios of `election-scenarios.ts` as the three tests every adapter runs, in
 * the caller's `describe` block (the caller starts its servers and the rival, and kills the
 * tracked workers, in its own hooks).
 */
import assert from 'node:assert/strict';
import {
  describeElectionReport,
  type ElectionRivalOptions,
  runLeaderFreeze,
  runLeaderHistory,
  runLeaderKill,
} from './election-scenarios.js';

export interface ElectionTestsOptions {
  /** The test runner's `it` (vitest's, node:test's): name, body, timeout in ms. */
  readonly it: (name: string, fn: () => Promise<void>, timeoutMs: number) => void;
  /** The backend as the reports name it: `'sqlite'`, `'mysql row'`. */
  readonly label: string;
  /** Put before each test's name and each election's name (`'row: '`). @default '' */
  readonly prefix?: string;
  /** The scenarios' settings, read when each test starts (after the caller's `beforeAll`). */
  readonly base: () => Omit<ElectionRivalOptions, 'name'>;
  /** Whether to run the three-processes history. @default true */
  readonly history?: boolean;
  /** Each failover test's timeout; the history gets twice as long. @default 60_000 */
  readonly timeoutMs?: number;
}

/** Registers: leader SIGKILL, leader SIGSTOP past its TTL, and (optionally) leaders in turn. */
export function electionScenarioTests(o: ElectionTestsOptions): void {
  const prefix = o.prefix ?? '';
  const timeoutMs = o.timeoutMs ?? 60_000;
  const named = (scenario: string) => ({ ...o.base(), name: `${prefix}${scenario}` });

  o.it(
    `${prefix}a SIGKILLed leader is followed by the waiting rival, with a higher term`,
    async () => {
      const report = await runLeaderKill(named('kill'));
      console.log(describeElectionReport(o.label, 'kill', report));
      assert.ok(report.rivalTerm > report.leaderTerm, 'the next term is higher');
    },
    timeoutMs,
  );

  o.it(
    `${prefix}a SIGSTOPped leader is deposed: its signal reads aborted on waking, it never writes after the rival`,
    async () => {
      const report = await runLeaderFreeze(named('freeze'));
      console.log(describeElectionReport(o.label, 'freeze', report));
      assert.ok(report.rivalTerm > report.leaderTerm, 'the next term is higher');
    },
    timeoutMs,
  );

  if (o.history === false) return;
  o.it(
    `${prefix}three processes leading in turn never overlap, terms strictly increase`,
    async () => {
      const report = await runLeaderHistory({ ...named('history'), processes: 3, rounds: 10 });
      assert.equal(report.terms, 30);
    },
    timeoutMs * 2,
  );
}
