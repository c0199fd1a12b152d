import { IdGenArgumentError, IdGenClosedError, IdOverflowError, toBackendError } from './errors.js';
import { checkInteger, MAX_TIMER_MS } from './validate.js';

/**
 * Reserve `step` ids in the store and return the largest one reserved: the segment is then
 * `max - step + 1 … max`. Stores: Redis INCRBY, MySQL `UPDATE … SET max_id = max_id + step`.
 */
export type SegmentSource = (step: number) => Promise<bigint>;

/**
 * Compare-and-set the store's counter from `expectedMax` down to `newMax`; resolves whether it
 * did. Used by `close()` to return unused ids when no other process reserved any after ours.
 */
export type SegmentGiveBack = (expectedMax: bigint, newMax: bigint) => Promise<boolean>;

export interface SegmentBufferOptions {
  source: SegmentSource;
  giveBack?: SegmentGiveBack | undefined;
  /** What the errors call the operation, e.g. `redisSegment("orders")`. */
  name: string;
  step: number;
  /** Fetch the next segment in the background once this share of the current one is used. */
  prefetchRatio: number | null;
  adaptive: boolean;
  maxStep: number;
  segmentDurationMs: number;
  clock: () => number;
}

/** Ids handed out from segments reserved in a store; see `createSegmentGenerator`. */
export interface SegmentGenerator {
  /** The next id. Strictly increasing within this generator. */
  nextId(): Promise<bigint>;
  /** `nextId()` as a decimal string. */
  nextIdString(): Promise<string>;
  /** The step the next fetch will request (changes with `adaptive`). */
  readonly step: number;
  /**
   * Refuse new calls, end waiting ones with `IdGenClosedError` and wait for an in-flight fetch
   * to settle, so no query runs after this resolves. Unused ids of the held segments are given
   * back to the store if no other process reserved ids after this one (compare-and-set), so a
   * graceful restart leaves no gap; otherwise they are skipped. Idempotent. Does not close the
   * user's client or pool.
   */
  close(): Promise<void>;
}

interface Segment {
  start: bigint;
  end: bigint;
}

/** How long a failed background fetch waits before the next background retry. */
const PREFETCH_RETRY_MS = 1000;
const MAX_ID = 2n ** 63n - 1n;

export function createSegmentBuffer(options: SegmentBufferOptions): SegmentGenerator {
  const { source, name, prefetchRatio, adaptive, maxStep, segmentDurationMs, clock } = options;
  const minStep = options.step;
  let step = minStep;

  // Current segment as cursor..end (inclusive); empty until the first fetch.
  let cursor = 1n;
  let end = 0n;
  let prefetchAt = 0n;
  let next: Segment | null = null;
  // The one fetch allowed at a time (see startFetch).
  let inflight: Promise<unknown> | null = null;
  let backgroundError: unknown;
  let backgroundFailedAt = 0;
  let lastFetchAt: number | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  /** The step for the next fetch; committed (with its time) only once the fetch succeeds. */
  function plannedStep(now: number): number {
    if (!adaptive || lastFetchAt === undefined) return step;
    // Leaf's rule: a segment used up in under the target duration doubles the step (fewer round
    // trips under load); one that lasted over twice the target halves it (smaller restart gaps).
    const lasted = now - lastFetchAt;
    if (lasted < segmentDurationMs) return Math.min(step * 2, maxStep);
    if (lasted >= 2 * segmentDurationMs) return Math.max(Math.floor(step / 2), minStep);
    return step;
  }

  async function fetchSegment(): Promise<Segment> {
    const now = adaptive ? clock() : 0;
    const size = plannedStep(now);
    let max: bigint;
    try {
      max = await source(size);
    } catch (error) {
      throw toBackendError(name, error);
    }
    if (typeof max !== 'bigint' || max > MAX_ID) {
      throw new IdOverflowError(
        `${name}: the store returned ${String(max)}, not an id up to 2^63-1`,
      );
    }
    step = size;
    lastFetchAt = now;
    return { start: max - BigInt(size) + 1n, end: max };
  }

  function install(segment: Segment): void {
    cursor = segment.start;
    end = segment.end;
    prefetchAt =
      prefetchRatio === null
        ? MAX_ID + 2n // never reached: no prefetch
        : segment.start +
          BigInt(Math.ceil(Number(segment.end - segment.start + 1n) * prefetchRatio));
  }

  /**
   * Start the one fetch allowed at a time. The promise never rejects: it resolves to the error
   * of a foreground fetch (so every waiter sees it) or undefined. A background failure is kept
   * instead, and the caller that runs out of ids retries in the foreground and sees that outcome.
   */
  function startFetch(background: boolean): Promise<unknown> {
    const attempt = fetchSegment().then(
      (segment) => {
        // Kept even when closed meanwhile: close() may give it back.
        next = segment;
        backgroundError = undefined;
        return undefined;
      },
      (error: unknown) => {
        if (!background) return error;
        backgroundError = error;
        backgroundFailedAt = clock();
        return undefined;
      },
    );
    inflight = attempt;
    void attempt.then(() => {
      if (inflight === attempt) inflight = null;
    });
    return attempt;
  }

  function prefetch(): void {
    if (inflight !== null || next !== null || closed) return;
    if (backgroundError !== undefined && clock() - backgroundFailedAt < PREFETCH_RETRY_MS) return;
    void startFetch(true);
  }

  /** Wait for ids; takes one in the same synchronous step that sees it, so no waiter races. */
  async function refillAndTake(): Promise<bigint> {
    for (;;) {
      if (closed) throw new IdGenClosedError(`${name} generator`);
      if (cursor <= end) return take();
      if (next !== null) {
        install(next);
        next = null;
        continue;
      }
      const error = await (inflight ?? startFetch(false));
      if (closed) throw new IdGenClosedError(`${name} generator`);
      if (error !== undefined) throw error;
    }
  }

  function take(): bigint {
    const id = cursor++;
    if (cursor >= prefetchAt) prefetch();
    return id;
  }

  async function nextId(): Promise<bigint> {
    if (closed) throw new IdGenClosedError(`${name} generator`);
    return cursor <= end ? take() : refillAndTake();
  }

  return {
    nextId,
    nextIdString: async () => (await nextId()).toString(),
    get step() {
      return step;
    },
    close() {
      closed = true;
      closing ??= (async () => {
        while (inflight !== null) await inflight;
        const held = next;
        next = null;
        if (options.giveBack === undefined) return;
        // What this generator reserved last, and the first id it never handed out. The current
        // segment's rest can go back only if the held next segment directly follows it.
        const top = held === null ? end : held.end;
        const firstUnused = held === null || held.start === end + 1n ? cursor : held.start;
        cursor = end + 1n;
        if (firstUnused > top) return;
        try {
          await options.giveBack(top, firstUnused - 1n);
        } catch {
          // Best effort: if it fails the ids are only skipped, never reissued.
        }
      })();
      return closing;
    },
  };
}

/** Shared option checks for the segment factories; thrown before any I/O. */
export function checkSegmentOptions(options: {
  step: unknown;
  maxStep?: unknown;
  segmentDurationMs?: unknown;
}): { step: number; maxStep: number; segmentDurationMs: number } {
  const step = checkInteger('step', options.step, 1, 1_000_000_000);
  const maxStep = checkInteger(
    'maxStep',
    options.maxStep ?? Math.max(step, 1_000_000),
    1,
    1_000_000_000,
  );
  if (maxStep < step)
    throw new IdGenArgumentError(`maxStep (${maxStep}) must be at least step (${step})`);
  const segmentDurationMs = checkInteger(
    'segmentDurationMs',
    options.segmentDurationMs ?? 15 * 60_000,
    1,
    MAX_TIMER_MS,
  );
  return { step, maxStep, segmentDurationMs };
}
