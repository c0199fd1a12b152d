import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type {
  AcquireResult,
  LeaseAcquireRequest,
  LeaseKind,
  LockBackend,
  SharedBackend,
  SharedState,
} from '../backend.js';
import type { TestRunner } from './kit.js';
import { lapser, type SpiSuiteContext, spiRun } from './spi-run.js';

export interface SharedSpiSuiteOptions {
  /** Shown in the suite's title. */
  name: string;
  /**
   * Returns a new backend instance on the same server state each call, as another process would
   * have. The suite closes every backend it created. A backend without `shared` passes the
   * suite's single check that it declares none.
   */
  createBackend(): LockBackend | Promise<LockBackend>;
  runner: TestRunner;
  /**
   * A TTL short enough to wait out, for the expiry tests (real time on a real server). Backends
   * with whole-second TTLs pass at least their granularity.
   * @default 250
   */
  shortTtlMs?: number;
  /**
   * Moves the server's clock forward by `ms` (a fake clock, as the memory store's). When given,
   * the suite waits out TTLs with it instead of real time.
   */
  advanceTime?(ms: number): void | Promise<void>;
  /**
   * Makes the server forget the fencing state of a free shared key (as a restart without
   * persistence or an evicted counter would). When given, the suite checks that later grants
   * still fence above every earlier token of the key.
   */
  loseFencingState?(family: 'semaphore' | 'read-write', key: string): void | Promise<void>;
  /**
   * More keys the adapter wants checked as plain data, on top of the suite's own.
   * @default []
   */
  keys?: readonly string[];
  /**
   * `inspect()` lists the holders a lowered limit left beyond it as holders. A backend that
   * derives "who holds" from the queue order and today's limit (etcd) lists them as waiting
   * until they release; exclusion is checked either way.
   * @default true
   */
  inspectsHoldersBeyondLoweredLimit?: boolean;
}

/** What each part of the shared-key SPI suite gets: helpers bound to one run. */
export interface SharedSpiContext extends SpiSuiteContext {
  readonly options: SharedSpiSuiteOptions;
  readonly timeoutMs: number;
  /** The `shared` operations of a fresh backend, or `undefined` when the backend has none. */
  shared(): Promise<SharedBackend | undefined>;
}

export const newOwner = (): string => randomBytes(16).toString('hex');

/** A semaphore request with the suite's defaults (10 s lease, one permit, no queue). */
export function semaphoreRequest(
  key: string,
  owner: string,
  limit: number,
  overrides: Partial<LeaseAcquireRequest> = {},
): LeaseAcquireRequest {
  return {
    key,
    owner,
    kind: 'semaphore',
    ttlMs: 10_000,
    limit,
    permits: 1,
    changeLimit: false,
    queue: false,
    ...overrides,
  };
}

/** A read or write request with the suite's defaults (10 s lease, no queue). */
export function modeRequest(
  kind: Exclude<LeaseKind, 'semaphore'>,
  key: string,
  owner: string,
  overrides: Partial<LeaseAcquireRequest> = {},
): LeaseAcquireRequest {
  return {
    key,
    owner,
    kind,
    ttlMs: 10_000,
    limit: 1,
    permits: 1,
    changeLimit: false,
    queue: false,
    ...overrides,
  };
}

export function granted(
  result: AcquireResult,
  what = 'expected a grant',
): asserts result is Extract<AcquireResult, { acquired: true }> {
  assert.equal(result.acquired, true, what);
}

export function refused(result: AcquireResult, what = 'expected a refusal'): void {
  assert.equal(result.acquired, false, what);
}

/** Permits held in a semaphore state (0 for `null`). */
export function heldPermits(state: SharedState | null): number {
  return state ? state.holders.reduce((sum, lease) => sum + lease.permits, 0) : 0;
}

/** Waiters as the backend counts them: `undefined` means it cannot tell. */
export function assertWaiters(state: SharedState | null, expected: number, what: string): void {
  if (state === null) assert.equal(expected, 0, `${what}: nobody holds or waits`);
  else if (state.waiters !== undefined) assert.equal(state.waiters, expected, what);
}

export function createSharedSpiContext(
  options: SharedSpiSuiteOptions,
): SharedSpiContext & { closeAll(): Promise<void> } {
  const { run, shortTtl, timeoutMs, backend, closeAll } = spiRun(options);
  let counter = 0;
  return {
    options,
    shortTtl,
    timeoutMs,
    backend,
    async shared() {
      return (await backend()).shared;
    },
    key: (label) => `dlock-shared-spi:${run}:${label}:${++counter}`,
    test: (name, fn) => options.runner.it(name, fn, timeoutMs),
    lapse: lapser(options.advanceTime, timeoutMs),
    closeAll,
  };
}
