import { IdGenArgumentError } from './errors.js';
import {
  checkSegmentOptions,
  createSegmentBuffer,
  type SegmentGenerator,
  type SegmentGiveBack,
  type SegmentSource,
} from './segment-buffer.js';

/** Options every segment generator shares (Meituan Leaf's segment mode). */
export interface SegmentOptions {
  /** Ids reserved per round trip to the store (the first step, with `adaptive`). Positive. */
  step: number;
  /**
   * Adapt the step to the consumption rate as Leaf does: a segment used up in less than
   * `segmentDurationMs` doubles the step (up to `maxStep`), one that lasted more than twice as
   * long halves it (down to `step`).
   * @default true
   */
  adaptive?: boolean;
  /**
   * Largest step `adaptive` may grow to.
   * @default Math.max(step, 1_000_000)
   */
  maxStep?: number;
  /**
   * Target lifetime of one segment for `adaptive`, in milliseconds.
   * @default 900000 (15 minutes, as Leaf)
   */
  segmentDurationMs?: number;
  /**
   * Clock for the adaptive step and prefetch retries (inject one in tests).
   * @default Date.now
   */
  clock?: () => number;
}

export interface SegmentGeneratorOptions extends SegmentOptions {
  /**
   * Reserves `step` ids in a durable store and resolves to the largest reserved id; the segment
   * is `max - step + 1 … max`. Must be atomic across processes (one store-side increment).
   */
  source: SegmentSource;
  /**
   * Optional compare-and-set of the store's counter, used by `close()` to give unused ids back
   * when no other process reserved ids after this one (so a graceful restart leaves no gap).
   * @default undefined (unused ids are skipped)
   */
  giveBack?: SegmentGiveBack;
  /**
   * A name for error messages.
   * @default 'segment'
   */
  name?: string;
}

/**
 * Ids from segments reserved in a store, double-buffered: once 10% of the current segment is
 * used, the next one is fetched in the background, so callers almost never wait on I/O.
 */
export function createSegmentGenerator(options: SegmentGeneratorOptions): SegmentGenerator {
  if (typeof options !== 'object' || options === null || typeof options.source !== 'function') {
    throw new IdGenArgumentError('createSegmentGenerator needs a `source` function');
  }
  if (options.giveBack !== undefined && typeof options.giveBack !== 'function') {
    throw new IdGenArgumentError('giveBack must be a function');
  }
  return segmentGenerator(options.source, options.name ?? 'segment', options, options.giveBack);
}

/** The factories' common path: checks options, then builds the double buffer. */
export function segmentGenerator(
  source: SegmentSource,
  name: string,
  options: SegmentOptions,
  giveBack?: SegmentGiveBack,
): SegmentGenerator {
  const { step, maxStep, segmentDurationMs } = checkSegmentOptions(options);
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw new IdGenArgumentError('clock must be a function');
  return createSegmentBuffer({
    source,
    giveBack,
    name,
    step,
    maxStep,
    segmentDurationMs,
    clock,
    adaptive: options.adaptive ?? true,
    prefetchRatio: 0.1,
  });
}
