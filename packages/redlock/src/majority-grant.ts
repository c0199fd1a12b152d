import { LockBackendError } from '@dlock/lock-core';
import type { AcquireResult, Granted } from '@dlock/lock-core/spi';
import { answers, type PartialOutcomes } from './fan-out.js';
import type { Quorum } from './quorum.js';
import { maxToken } from './tokens.js';
import { driftMs, rankedDescending, validityMs } from './validity.js';

/** One node's grant in an attempt. */
export interface Vote {
  readonly index: number;
  readonly value: Granted;
}

/** The grants among the nodes' answers of one attempt (as `decodeAcquireReply` reads them). */
export function grantVotes(outcomes: PartialOutcomes<AcquireResult>): Vote[] {
  const granted: Vote[] = [];
  for (const answer of answers(outcomes)) {
    if (answer.value.acquired) granted.push({ index: answer.index, value: answer.value });
  }
  return granted;
}

/**
 * Whether the answers so far already settle an attempt as granted (`onAllNodes`' `decided`): a
 * majority of fresh grants, or a majority of re-entries. Two majorities share a node, so the
 * nodes yet to answer cannot turn it into the other kind, and `majorityGrant` on these answers
 * judges it as it would with every answer in. The token is then the largest among these voters:
 * enough, since every earlier token sits on a majority of counters (`alignCounters`) and these
 * voters include at least one node of that majority. Refusals and failures are not decided
 * early: undoing partial grants wants every node's answer.
 */
export function grantDecided(q: Quorum, outcomes: PartialOutcomes<AcquireResult>): boolean {
  let fresh = 0;
  let reentries = 0;
  for (const outcome of outcomes) {
    if (!outcome?.ok || !outcome.value.acquired) continue;
    if (outcome.value.reentered) reentries++;
    else fresh++;
  }
  return fresh >= q.size || reentries >= q.size;
}

/** The grant a majority of nodes agrees on. */
export interface MajorityGrant {
  /** A majority re-entered the owner's hold (rather than granting it fresh). */
  readonly reentered: boolean;
  /** The votes the grant rests on: the re-entries of a re-entry, every grant of a fresh one. */
  readonly voters: readonly Vote[];
  /** The largest token among the voters (before any counter alignment). */
  readonly fencingToken: bigint;
}

/**
 * Judges the grants of one attempt (mutex or lease): a re-entry must re-enter the same hold on a
 * majority, a fresh grant needs a majority of fresh grants. A mix of re-entries and fresh grants
 * means the original hold lost its majority (a node lost its data): neither kind is trusted, and
 * the attempt has no grant (`undefined`).
 */
export function majorityGrant(q: Quorum, granted: readonly Vote[]): MajorityGrant | undefined {
  const reentries = granted.filter((vote) => vote.value.reentered);
  const fresh = granted.length - reentries.length;
  const reentered = reentries.length >= q.size;
  if (!reentered && fresh < q.size) return undefined;
  const voters = reentered ? reentries : granted;
  return { reentered, voters, fencingToken: maxToken(voters.map((v) => v.value.fencingToken)) };
}

/** What is left of a grant's validity, with the figures it was computed from. */
export interface GrantValidity {
  /** `ttl - elapsed - drift`, where ttl is what a majority of the voters still has. */
  readonly validityMs: number;
  readonly elapsedMs: number;
  readonly driftMs: number;
  readonly ttlMs: number;
}

/**
 * Redlock's validity of a grant: the quorum-th largest remaining TTL among the voters (how long
 * a majority still holds it), less the time the attempt took since `start` and the drift
 * allowance of the requested TTL.
 */
export function grantValidity(
  q: Quorum,
  voters: readonly Vote[],
  ttlMs: number,
  start: number,
): GrantValidity {
  const basis = rankedDescending(
    voters.map((v) => v.value.ttlMs),
    q.size,
  );
  const drift = driftMs(ttlMs, q.driftFactor);
  const elapsed = q.now() - start;
  return {
    validityMs: validityMs(basis, elapsed, drift),
    elapsedMs: elapsed,
    driftMs: drift,
    ttlMs,
  };
}

/**
 * The rejection of a grant whose validity is spent: the quorum answered too late for the hold to
 * be of any use (it may already be expiring on some nodes), so it is never handed out. `subject`
 * names what was granted ("the lock", "the read lease").
 */
export function spentGrantError(key: string, subject: string, v: GrantValidity): LockBackendError {
  return new LockBackendError(
    'redlock',
    'acquire',
    new Error(
      `a majority granted ${subject} but its validity was spent: the nodes took ${Math.round(v.elapsedMs)} ms and the drift allowance is ${v.driftMs} ms of a ${v.ttlMs} ms TTL; use a longer ttlMs`,
    ),
    key,
  );
}
