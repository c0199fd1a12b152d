import type { BackendCapabilities } from './backend.js';
import { LockArgumentError, LockUnsupportedError } from './errors.js';
import { rejectUnknownOptions } from './option-validators.js';
import type { LockClientOptions, OnLost, WaitStrategy } from './types.js';
import {
  validateDuration,
  validateEnum,
  validateFunction,
  validateOwner,
  validatePositiveDuration,
  validateSignal,
  validateTtl,
} from './validate.js';

const STRATEGIES: readonly WaitStrategy[] = ['auto', 'native', 'watch', 'poll'];

export interface ClientDefaults {
  readonly ttlMs: number;
  readonly waitTimeoutMs: number;
  readonly strategy: WaitStrategy;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxHoldMs: number;
  readonly onLost: OnLost | undefined;
  readonly clientId: string | undefined;
  readonly watchdogBatchSize: number;
  readonly maxWaiters: number;
  readonly maxWaitersPerKey: number;
  readonly handOverLimit: number;
  readonly handOverWindowMs: number;
}

const CLIENT_OPTIONS = new Set([
  'ttlMs',
  'waitTimeoutMs',
  'strategy',
  'poll',
  'maxHoldMs',
  'onLost',
  'clientId',
  'watchdogBatchSize',
  'maxWaiters',
  'maxWaitersPerKey',
  'handOverLimit',
  'handOverWindowMs',
]);
const POLL_OPTIONS = new Set(['initialDelayMs', 'maxDelayMs']);
const HOLD_OPTIONS = ['ttlMs', 'owner', 'autoExtend', 'maxHoldMs', 'onLost'];
const ACQUIRE_OPTIONS = new Set([
  ...HOLD_OPTIONS,
  'waitTimeoutMs',
  'signal',
  'strategy',
  'poll',
  'maxWaitersPerKey',
]);
const TRY_OPTIONS = new Set(HOLD_OPTIONS);
const USING_OPTIONS = new Set([...ACQUIRE_OPTIONS].filter((name) => name !== 'autoExtend'));

export function normalizeClientOptions(options: LockClientOptions | undefined): ClientDefaults {
  const o = rejectUnknownOptions('createLockClient', options, CLIENT_OPTIONS) as LockClientOptions;
  const poll = rejectUnknownOptions('poll', o.poll, POLL_OPTIONS) as NonNullable<
    LockClientOptions['poll']
  >;
  if (o.onLost !== undefined) validateFunction('onLost', o.onLost);
  if (
    o.clientId !== undefined &&
    (typeof o.clientId !== 'string' || o.clientId.length === 0 || o.clientId.includes('#'))
  ) {
    throw new LockArgumentError('clientId must be a non-empty string without "#"');
  }
  const batch = o.watchdogBatchSize ?? 256;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new LockArgumentError(
      `watchdogBatchSize must be a positive integer, got ${String(batch)}`,
    );
  }
  return {
    ttlMs: validateTtl('ttlMs', o.ttlMs ?? 30_000),
    waitTimeoutMs: validateDuration('waitTimeoutMs', o.waitTimeoutMs ?? Number.POSITIVE_INFINITY),
    strategy: validateEnum('strategy', o.strategy ?? 'auto', STRATEGIES),
    initialDelayMs: validatePositiveDuration('poll.initialDelayMs', poll.initialDelayMs ?? 10),
    maxDelayMs: validatePositiveDuration('poll.maxDelayMs', poll.maxDelayMs ?? 500),
    maxHoldMs: validatePositiveDuration('maxHoldMs', o.maxHoldMs ?? Number.POSITIVE_INFINITY),
    onLost: o.onLost,
    clientId: o.clientId,
    watchdogBatchSize: batch,
    maxWaiters: validateWaiterBound('maxWaiters', o.maxWaiters),
    maxWaitersPerKey: validateWaiterBound('maxWaitersPerKey', o.maxWaitersPerKey),
    handOverLimit: validateHandOverLimit(o.handOverLimit ?? 16),
    handOverWindowMs: validateDuration('handOverWindowMs', o.handOverWindowMs ?? 100),
  };
}

function validateHandOverLimit(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new LockArgumentError(
      `handOverLimit must be a non-negative integer, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

export type CallKind = 'acquire' | 'tryAcquire' | 'using';

export interface CallOptions {
  readonly ttlMs: number;
  readonly owner: string | undefined;
  readonly autoExtend: boolean;
  readonly maxHoldMs: number;
  readonly onLost: OnLost | undefined;
  readonly waitTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly strategy: 'native' | 'watch' | 'poll';
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** `Infinity` for tryAcquire, which never waits. */
  readonly maxWaitersPerKey: number;
}

/** A bound on waiters: a positive integer, or `Infinity` (the default) for none. */
function validateWaiterBound(name: string, value: unknown): number {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new LockArgumentError(
      `${name} must be a positive integer or Infinity, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

/** The options of a call that passed none, per kind: computed once per client. */
export function defaultCallOptions(
  defaults: ClientDefaults,
  capabilities: BackendCapabilities,
): Record<CallKind, CallOptions> {
  const make = (kind: CallKind) => normalizeCallOptions(kind, undefined, defaults, capabilities);
  return { acquire: make('acquire'), tryAcquire: make('tryAcquire'), using: make('using') };
}

/** Validates a call's options against the client defaults; throws `LockArgumentError`. */
export function normalizeCallOptions(
  kind: CallKind,
  options: unknown,
  defaults: ClientDefaults,
  capabilities: BackendCapabilities,
): CallOptions {
  const allowed =
    kind === 'acquire' ? ACQUIRE_OPTIONS : kind === 'using' ? USING_OPTIONS : TRY_OPTIONS;
  const o = rejectUnknownOptions(kind, options, allowed);
  const poll = rejectUnknownOptions('poll', o.poll, POLL_OPTIONS);
  if (o.autoExtend !== undefined && typeof o.autoExtend !== 'boolean') {
    throw new LockArgumentError(`autoExtend must be a boolean, got ${typeof o.autoExtend}`);
  }
  if (o.onLost !== undefined) validateFunction('onLost', o.onLost);
  return {
    ttlMs: o.ttlMs === undefined ? defaults.ttlMs : validateTtl('ttlMs', o.ttlMs),
    owner: o.owner === undefined ? undefined : validateOwner(o.owner),
    autoExtend: kind === 'using' || o.autoExtend === true,
    maxHoldMs:
      o.maxHoldMs === undefined
        ? defaults.maxHoldMs
        : validatePositiveDuration('maxHoldMs', o.maxHoldMs),
    onLost: o.onLost as OnLost | undefined,
    waitTimeoutMs:
      kind === 'tryAcquire'
        ? 0
        : o.waitTimeoutMs === undefined
          ? defaults.waitTimeoutMs
          : validateDuration('waitTimeoutMs', o.waitTimeoutMs),
    signal: o.signal === undefined ? undefined : validateSignal(o.signal),
    strategy: resolveStrategy(
      o.strategy === undefined
        ? defaults.strategy
        : validateEnum('strategy', o.strategy, STRATEGIES),
      capabilities,
    ),
    initialDelayMs:
      poll.initialDelayMs === undefined
        ? defaults.initialDelayMs
        : validatePositiveDuration('poll.initialDelayMs', poll.initialDelayMs),
    maxDelayMs:
      poll.maxDelayMs === undefined
        ? defaults.maxDelayMs
        : validatePositiveDuration('poll.maxDelayMs', poll.maxDelayMs),
    maxWaitersPerKey:
      kind === 'tryAcquire'
        ? Number.POSITIVE_INFINITY
        : o.maxWaitersPerKey === undefined
          ? defaults.maxWaitersPerKey
          : validateWaiterBound('maxWaitersPerKey', o.maxWaitersPerKey),
  };
}

/** `auto` picks the best the backend offers; asking for one it lacks is a configuration error. */
export function resolveStrategy(
  strategy: WaitStrategy,
  capabilities: BackendCapabilities,
): 'native' | 'watch' | 'poll' {
  if (strategy === 'auto')
    return capabilities.nativeWait ? 'native' : capabilities.watch ? 'watch' : 'poll';
  if (strategy === 'native' && !capabilities.nativeWait) {
    throw new LockUnsupportedError(
      'waitAcquire',
      "strategy 'native' needs a backend with a native wait (capability nativeWait)",
    );
  }
  if (strategy === 'watch' && !capabilities.watch) {
    throw new LockUnsupportedError(
      'watch',
      "strategy 'watch' needs a backend that can watch keys (capability watch)",
    );
  }
  return strategy;
}

/** Whether a client default `strategy` works on a backend with these capabilities. */
export function supportsStrategy(
  strategy: WaitStrategy,
  capabilities: BackendCapabilities,
): boolean {
  return (
    strategy === 'auto' ||
    strategy === 'poll' ||
    (strategy === 'native' && capabilities.nativeWait) ||
    (strategy === 'watch' && capabilities.watch)
  );
}
