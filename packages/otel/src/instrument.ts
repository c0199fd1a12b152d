import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type Attributes,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { ATTR, CHANNELS, DURATION_BUCKETS, METRIC, SPAN } from './names.js';

export interface InstrumentDlockOptions {
  /**
   * Where spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProvider;
  /**
   * Where metrics go.
   * @default the global meter provider (`metrics.getMeterProvider()`)
   */
  meterProvider?: MeterProvider;
}

export interface DlockInstrumentation {
  /**
   * Unsubscribe from dlock's channels. Hold spans still open end now (attribute `dlock.lock.end`
   * = `untracked`) and the current-holds counter gives them back, so it does not stay up.
   * Idempotent.
   */
  disable(): void;
}

/** What lock-core publishes (see its `diagnostics.ts`). */
interface AcquireEnd {
  key: string;
  acquired: boolean;
  reentered?: boolean;
  fencingToken?: bigint;
  waitMs: number;
  error?: unknown;
}
interface Release {
  key: string;
  result: 'released' | 'decremented' | 'not-held';
  heldMs: number;
}
interface Lost {
  key: string;
  reason: string;
  error?: unknown;
}
interface Extend {
  key: string;
  ok: boolean;
  watchdog?: boolean;
}

interface OpenHold {
  readonly span: Span;
  /** `performance.now()` at the grant. */
  readonly since: number;
}

const SCOPE = '@dlock/otel';

/** Epoch milliseconds with the monotonic clock's resolution (span start and end times). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A failed acquire's outcome from lock-core's error codes (and an AbortSignal's reason). */
function outcomeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'DLOCK_TIMEOUT') return 'timeout';
  if (code === 'DLOCK_QUEUE_FULL') return 'queue_full';
  if (code === 'DLOCK_CLOSED') return 'closed';
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'AbortError' || name === 'TimeoutError') return 'aborted';
  return 'error';
}

function errorType(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.name === 'string') return e.name;
  return '_OTHER';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Subscribes to dlock's `node:diagnostics_channel` channels and reports what every lock client
 * in this process does (any backend, any copy of `@dlock/lock-core`), until `disable()`:
 *
 * - spans `dlock.lock.wait` (each acquire, from its call to its grant or failure; a child of the
 *   caller's active span) and `dlock.lock.hold` (from a grant to the release that freed the key,
 *   or to the loss, which sets the span's status to error);
 * - histograms `dlock.lock.wait.duration` and `dlock.lock.hold.duration` in seconds, counters
 *   `dlock.lock.acquisitions` (by `dlock.lock.outcome`), `dlock.lock.losses` (by
 *   `dlock.lock.lost.reason`) and `dlock.lock.renewals`, and the up-down counter
 *   `dlock.lock.holds` of locks held now.
 *
 * Owner tokens are never recorded (lock-core does not publish them). Keys appear on spans only,
 * never as metric attributes (unbounded cardinality). lock-core builds no message while nobody
 * subscribes, so without this package (or after `disable()`) dlock pays nothing for it.
 *
 * Holds are matched to their end by key, oldest first: a process holds a key at most once at a
 * time, except for the moment after a lease silently expired and was granted again.
 */
export function instrumentDlock(options: InstrumentDlockOptions = {}): DlockInstrumentation {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const waitDuration = meter.createHistogram(METRIC.waitDuration, {
    unit: 's',
    description: 'Time from the start of an acquire to its grant or failure.',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const holdDuration = meter.createHistogram(METRIC.holdDuration, {
    unit: 's',
    description: 'Time a lock was held, from its grant to its release or loss.',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const acquisitions = meter.createCounter(METRIC.acquisitions, {
    unit: '{acquisition}',
    description: 'Acquire calls, by outcome.',
  });
  const losses = meter.createCounter(METRIC.losses, {
    unit: '{loss}',
    description: 'Locks lost while held, by reason.',
  });
  const holds = meter.createUpDownCounter(METRIC.holds, {
    unit: '{lock}',
    description: 'Locks this process holds now.',
  });
  const renewals = meter.createCounter(METRIC.renewals, {
    unit: '{renewal}',
    description: 'Lease renewals, by outcome.',
  });

  const open = new Map<string, OpenHold[]>();

  const startHold = (key: string, fencingToken: bigint | undefined, at: number): void => {
    const attributes: Attributes = { [ATTR.key]: key };
    if (fencingToken !== undefined) attributes[ATTR.fencingToken] = String(fencingToken);
    const span = tracer.startSpan(SPAN.hold, {
      kind: SpanKind.INTERNAL,
      startTime: at,
      attributes,
    });
    const list = open.get(key);
    if (list) list.push({ span, since: performance.now() });
    else open.set(key, [{ span, since: performance.now() }]);
    holds.add(1);
  };

  /** Ends the key's oldest open hold; false when none is open (already ended, or not seen). */
  const endHold = (key: string, end: string, attributes: Attributes, failure?: string): boolean => {
    const list = open.get(key);
    const hold = list?.shift();
    if (!hold) return false;
    if (list!.length === 0) open.delete(key);
    hold.span.setAttributes({ [ATTR.end]: end, ...attributes });
    if (failure !== undefined)
      hold.span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
    hold.span.end(nowMs());
    holdDuration.record((performance.now() - hold.since) / 1000, {
      [ATTR.end]: end,
      ...attributes,
    });
    holds.add(-1);
    return true;
  };

  const onAcquireEnd = (message: unknown): void => {
    const m = message as AcquireEnd;
    const end = nowMs();
    const start = end - m.waitMs;
    const outcome = m.acquired ? (m.reentered ? 'reentered' : 'acquired') : outcomeOf(m.error);
    const metricAttributes: Attributes = { [ATTR.outcome]: outcome };
    if (!m.acquired) metricAttributes[ATTR.errorType] = errorType(m.error);
    const span = tracer.startSpan(SPAN.wait, {
      kind: SpanKind.INTERNAL,
      startTime: start,
      attributes: { [ATTR.key]: m.key, ...metricAttributes },
    });
    if (m.fencingToken !== undefined) span.setAttribute(ATTR.fencingToken, String(m.fencingToken));
    // A busy key is an answer, not a failure of the acquire; everything else that failed is.
    if (!m.acquired && outcome !== 'timeout') {
      span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(m.error) });
    }
    span.end(end);
    waitDuration.record(m.waitMs / 1000, metricAttributes);
    acquisitions.add(1, metricAttributes);
    if (m.acquired && !m.reentered) startHold(m.key, m.fencingToken, end);
  };

  const onRelease = (message: unknown): void => {
    const m = message as Release;
    // `decremented`: still held (re-entered); `not-held`: a `dlock:lost` event follows.
    if (m.result === 'released') endHold(m.key, 'released', {});
  };

  const onLost = (message: unknown): void => {
    const m = message as Lost;
    losses.add(1, { [ATTR.lostReason]: m.reason });
    endHold(m.key, 'lost', { [ATTR.lostReason]: m.reason }, messageOf(m.error));
  };

  const onExtend = (message: unknown): void => {
    const m = message as Extend;
    renewals.add(1, {
      [ATTR.renewalOutcome]: m.ok ? 'ok' : 'failed',
      [ATTR.watchdog]: m.watchdog === true,
    });
  };

  const subscriptions: Array<[string, (message: unknown) => void]> = [
    [CHANNELS.acquireEnd, onAcquireEnd],
    [CHANNELS.release, onRelease],
    [CHANNELS.lost, onLost],
    [CHANNELS.extend, onExtend],
  ];
  for (const [name, handler] of subscriptions) subscribe(name, handler);

  let enabled = true;
  return {
    disable() {
      if (!enabled) return;
      enabled = false;
      for (const [name, handler] of subscriptions) unsubscribe(name, handler);
      for (const key of [...open.keys()]) {
        while (endHold(key, 'untracked', {})) {}
      }
    },
  };
}
