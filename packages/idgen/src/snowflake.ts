import {
  ClockMovedBackwardsError,
  IdGenArgumentError,
  IdOverflowError,
  WorkerIdLostError,
} from './errors.js';
import {
  type ResolvedLayout,
  resolveLayout,
  type SnowflakeLayout,
  TWITTER_LAYOUT,
} from './snowflake-layout.js';
import { checkInteger, describe, toIdBigInt } from './validate.js';

/**
 * A worker id held under a lease (see `leaseWorkerId`). The generator refuses to issue ids once
 * `signal` aborts or `expiresAt` has passed: the latter catches a lease that expired while a long
 * synchronous loop kept the event loop (and so the lock's watchdog) from running.
 */
export interface LeasedWorkerId {
  readonly workerId: number;
  readonly signal: AbortSignal;
  /** Milliseconds since the Unix epoch after which the lease may belong to someone else. */
  readonly expiresAt?: number;
}

/** What to do when the clock reads earlier than the last issued timestamp. */
export type ClockBackwardsPolicy =
  /** Spin until the clock catches up if it is at most `maxBackwardsMs` behind, else throw. */
  | 'wait'
  /**
   * Keep issuing from the last timestamp (moving it forward one millisecond whenever the
   * sequence runs out), as sonyflake does. Never waits or throws, but ids then carry a logical
   * time ahead of the wall clock until it catches up.
   */
  | 'borrow';

/** Twitter's snowflake epoch, 2010-11-04T01:42:54.657Z in ms: the default `epoch`. */
export const TWITTER_EPOCH = 1_288_834_974_657;

export interface SnowflakeOptions {
  /**
   * Start of the id clock: milliseconds since the Unix epoch, or a Date. Not in the future. Ids
   * from generators with different epochs do not compare or decode alike: pick one per system
   * and never change it. The default is Twitter's, as `dlock id snowflake` uses, so ids match the
   * common layout (with 41 timestamp bits they last until 2080).
   * @default TWITTER_EPOCH (2010-11-04T01:42:54.657Z)
   */
  epoch?: number | Date;
  /** Datacenter id, 0 … 2^datacenterBits - 1. */
  datacenterId: number;
  /** Worker id, 0 … 2^workerBits - 1, or a lease from `leaseWorkerId`. */
  workerId: number | LeasedWorkerId;
  /**
   * Bits per field; must sum to 63 or 53.
   * @default TWITTER_LAYOUT (41 / 5 / 5 / 12)
   */
  layout?: SnowflakeLayout;
  /**
   * Policy when the clock moves backwards.
   * @default 'wait'
   */
  onClockBackwards?: ClockBackwardsPolicy;
  /**
   * With `onClockBackwards: 'wait'`, the largest step back (ms) that is waited out by spinning;
   * a larger one throws `ClockMovedBackwardsError`.
   * @default 5
   */
  maxBackwardsMs?: number;
  /**
   * Wall clock in milliseconds since the Unix epoch (inject one in tests).
   * @default Date.now
   */
  clock?: () => number;
}

export interface DecodedSnowflake {
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
  readonly datacenterId: number;
  readonly workerId: number;
  readonly sequence: number;
}

export interface Snowflake {
  /** A new id, strictly greater than every earlier id of this generator. */
  nextId(): bigint;
  /** `nextId()` as a decimal string: safe through JSON. */
  nextIdString(): string;
  /** `nextId()` as a number; only for layouts of at most 53 bits (`SAFE_INTEGER_LAYOUT`). */
  nextIdNumber(): number;
  /** Split an id (bigint, decimal string or safe integer) of this layout and epoch into fields. */
  decode(id: bigint | string | number): DecodedSnowflake;
  readonly layout: SnowflakeLayout;
}

/** Create a snowflake generator. Never issues a duplicate or a smaller id. */
export function createSnowflake(options: SnowflakeOptions): Snowflake {
  if (typeof options !== 'object' || options === null) {
    throw new IdGenArgumentError('createSnowflake needs an options object');
  }
  const layout = resolveLayout(options.layout ?? TWITTER_LAYOUT);
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw new IdGenArgumentError('clock must be a function');
  const epoch = resolveEpoch(options.epoch ?? TWITTER_EPOCH, clock(), layout);
  const datacenterId = checkInteger(
    'datacenterId',
    options.datacenterId,
    0,
    layout.maxDatacenterId,
  );
  const lease =
    typeof options.workerId === 'object' && options.workerId !== null
      ? options.workerId
      : undefined;
  const workerId = checkInteger(
    'workerId',
    lease ? lease.workerId : options.workerId,
    0,
    layout.maxWorkerId,
  );
  if (lease && !(lease.signal instanceof AbortSignal)) {
    throw new IdGenArgumentError('a leased workerId needs an AbortSignal `signal`');
  }
  const policy = options.onClockBackwards ?? 'wait';
  if (policy !== 'wait' && policy !== 'borrow') {
    throw new IdGenArgumentError(
      `onClockBackwards must be 'wait' or 'borrow', got ${describe(policy)}`,
    );
  }
  const maxBackwardsMs = checkInteger('maxBackwardsMs', options.maxBackwardsMs ?? 5, 0, 10_000);

  const { maxSequence, maxTimestamp, timestampShift } = layout;
  // Datacenter and worker never change, so their bits are precomputed; multiplication rather
  // than << because JS shifts are 32-bit.
  const nodeBits = datacenterId * 2 ** layout.datacenterShift + workerId * 2 ** layout.workerShift;
  const shift = BigInt(timestampShift);
  const safeNumbers = layout.totalBits <= 53;

  let lastTs = -1;
  let sequence = 0;
  // The id of sequence 0 in the current millisecond; one BigInt add per id instead of a shift.
  let base = 0n;
  let baseNumber = 0;

  function startMillisecond(ts: number): void {
    if (ts > maxTimestamp) {
      throw new IdOverflowError(
        `The ${layout.timestampBits}-bit timestamp ran out ${maxTimestamp} ms after the epoch ${epoch}`,
      );
    }
    lastTs = ts;
    sequence = 0;
    baseNumber = ts * 2 ** timestampShift + nodeBits;
    base = (BigInt(ts) << shift) + BigInt(nodeBits);
  }

  /**
   * Spin until the clock reaches `target` (ms since epoch). Ids are issued synchronously, so a
   * spin is the only way to wait; it is bounded by `allowedMs` of real (monotonic) time, which
   * also protects against an injected clock that never moves.
   */
  function spinUntil(target: number, first: number, allowedMs: number): number {
    let now = first;
    const deadline = performance.now() + allowedMs + 1;
    while (now < target) {
      if (target - now > allowedMs)
        throw new ClockMovedBackwardsError(target - now, maxBackwardsMs);
      if (performance.now() > deadline) {
        // Re-read first: the process may simply have been descheduled past the deadline.
        now = clock() - epoch;
        if (now >= target) break;
        throw new ClockMovedBackwardsError(target - now, maxBackwardsMs);
      }
      now = clock() - epoch;
    }
    return now;
  }

  function advance(): void {
    if (lease !== undefined) checkLease(lease, workerId);
    let now = clock() - epoch;
    if (now > lastTs) {
      startMillisecond(now);
      return;
    }
    if (now < lastTs && policy === 'wait') {
      now = spinUntil(lastTs, now, maxBackwardsMs);
      if (now > lastTs) {
        startMillisecond(now);
        return;
      }
    }
    if (sequence < maxSequence) {
      sequence++;
      return;
    }
    // Sequence exhausted in this millisecond.
    if (policy === 'borrow' && now < lastTs) {
      startMillisecond(lastTs + 1);
      return;
    }
    // Waiting for the next millisecond is normal (1 ms); on top of it, allow the policy's slack.
    startMillisecond(spinUntil(lastTs + 1, now, 1 + (policy === 'wait' ? maxBackwardsMs : 0)));
  }

  function nextId(): bigint {
    advance();
    return base + BigInt(sequence);
  }

  function decode(id: bigint | string | number): DecodedSnowflake {
    const value = toIdBigInt('id', id);
    if (value < 0n || value >= 1n << BigInt(layout.totalBits)) {
      throw new IdGenArgumentError(`id ${value} is outside this ${layout.totalBits}-bit layout`);
    }
    const low = Number(value & ((1n << shift) - 1n));
    return {
      timestamp: Number(value >> shift) + epoch,
      datacenterId: Math.floor(low / 2 ** layout.datacenterShift) % 2 ** layout.datacenterBits,
      workerId: Math.floor(low / 2 ** layout.workerShift) % 2 ** layout.workerBits,
      sequence: low % 2 ** layout.sequenceBits,
    };
  }

  return {
    nextId,
    nextIdString: () => nextId().toString(),
    nextIdNumber(): number {
      if (!safeNumbers) {
        throw new IdGenArgumentError(
          `nextIdNumber() needs a layout of at most 53 bits (this one has ${layout.totalBits}); use nextId() or nextIdString()`,
        );
      }
      advance();
      return baseNumber + sequence;
    },
    decode,
    layout: Object.freeze({
      timestampBits: layout.timestampBits,
      datacenterBits: layout.datacenterBits,
      workerBits: layout.workerBits,
      sequenceBits: layout.sequenceBits,
    }),
  };
}

function checkLease(lease: LeasedWorkerId, workerId: number): void {
  if (lease.signal.aborted) throw new WorkerIdLostError(workerId, lease.signal.reason);
  // Real time on purpose (not the injectable id clock): expiresAt comes from the lock client.
  if (lease.expiresAt !== undefined && Date.now() >= lease.expiresAt) {
    throw new WorkerIdLostError(workerId);
  }
}

function resolveEpoch(epoch: unknown, now: number, layout: ResolvedLayout): number {
  const ms = epoch instanceof Date ? epoch.getTime() : epoch;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) {
    throw new IdGenArgumentError(
      `epoch must be a Date or a non-negative integer of milliseconds since the Unix epoch, got ${describe(epoch)}`,
    );
  }
  if (ms > now) {
    throw new IdGenArgumentError(
      `epoch ${new Date(ms).toISOString()} is in the future; ids would have negative timestamps`,
    );
  }
  if (now - ms > layout.maxTimestamp) {
    throw new IdGenArgumentError(
      `epoch ${new Date(ms).toISOString()} is too long ago for ${layout.timestampBits} timestamp bits`,
    );
  }
  return ms;
}
