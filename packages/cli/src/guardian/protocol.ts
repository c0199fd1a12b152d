/**
 * What `dlock run` and its guardian process (src/guardian.ts) tell each other over the Node IPC
 * channel. The channel itself is the liveness signal: when the dlock process dies, by any signal
 * including SIGKILL, the kernel closes its end and the guardian sees `disconnect`.
 */

/** Sent once, as the guardian's argument (JSON): nothing it needs can be lost in transit. */
export interface GuardianConfig {
  /** The user's command and its arguments. */
  readonly command: readonly string[];
  /** The key, for the guardian's own messages. */
  readonly key: string;
  /** pid of the dlock process, for the guardian's own messages. */
  readonly wrapperPid: number;
  /** The lease's end, see `ValidMessage.untilNs`. */
  readonly untilNs: string;
  /** `--on-lost`: `term` (SIGTERM first) or `kill` (SIGKILL at once). */
  readonly onLost: 'term' | 'kill';
  /** Grace between SIGTERM and SIGKILL; see `guardianTimings`. */
  readonly termGraceMs: number;
  /** How long before the lease's end the command's process group gets SIGKILL. */
  readonly killMarginMs: number;
  /** Grace between SIGTERM and SIGKILL after a loss dlock reported (`--on-lost term`). */
  readonly lostGraceMs: number;
  /** Report as JSON lines (dlock --json). */
  readonly json: boolean;
}

/**
 * After every grant and renewal: the lease's end by dlock's conservative estimate, as a point on
 * `process.hrtime` (CLOCK_MONOTONIC on Linux, mach_absolute_time on macOS: one clock for every
 * process on the host, unaffected by wall-clock steps), in nanoseconds as a decimal string. An
 * absolute point rather than "N ms left", so time the message spends in transit, or a dlock
 * stopped between computing and sending it, cannot stretch it.
 */
export interface ValidMessage {
  readonly type: 'valid';
  readonly untilNs: string;
}

/** A signal dlock received, for the command's process group. */
export interface SignalMessage {
  readonly type: 'signal';
  readonly signal: NodeJS.Signals;
}

/** dlock's watchdog lost the lock: end the command per `--on-lost`. */
export interface LostMessage {
  readonly type: 'lost';
}

export type ToGuardian = ValidMessage | SignalMessage | LostMessage;

/** Why the guardian ended the command on its own. */
export type GuardianReason = 'wrapper-gone' | 'lease-running-out';

export type FromGuardian =
  | { readonly type: 'spawned'; readonly pid: number }
  | { readonly type: 'spawn-error'; readonly code: string | undefined; readonly message: string }
  | {
      readonly type: 'exit';
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      /** Set when the guardian ended the command itself. */
      readonly endedBy: GuardianReason | undefined;
    };

export interface GuardianTimings {
  readonly termGraceMs: number;
  readonly killMarginMs: number;
}

/**
 * How far ahead of the lease's end the guardian acts. The command gets SIGTERM `termGraceMs`
 * before the end (a quarter of the TTL, at most 10 s) and SIGKILL `killMarginMs` before it (a
 * tenth of the TTL, at most 1 s), so it is gone while the lease still stands. A healthy
 * watchdog renews at a third of the TTL, so the estimate never gets within a quarter of the TTL
 * of its end unless renewals stop.
 */
export function guardianTimings(ttlMs: number): GuardianTimings {
  return {
    termGraceMs: Math.min(10_000, Math.floor(ttlMs / 4)),
    killMarginMs: Math.min(1_000, Math.floor(ttlMs / 10)),
  };
}

/** `remainingMs` from now as a point on the host's monotonic clock (see `ValidMessage`). */
export function monotonicDeadline(remainingMs: number): string {
  const ns = process.hrtime.bigint() + BigInt(Math.max(0, Math.floor(remainingMs * 1e6)));
  return ns.toString();
}

/** Milliseconds from now until a `monotonicDeadline` (negative once past). */
export function msUntil(untilNs: bigint): number {
  return Number(untilNs - process.hrtime.bigint()) / 1e6;
}
