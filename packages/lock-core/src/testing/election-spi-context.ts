import type { CampaignRequest, ElectionBackend, LockBackend } from '../backend.js';
import type { TestRunner } from './kit.js';
import { newOwner } from './shared-spi-context.js';
import { lapser, type SpiSuiteContext, spiRun } from './spi-run.js';

export { granted, newOwner, refused } from './shared-spi-context.js';

export interface ElectionSpiSuiteOptions {
  /** Shown in the suite's title. */
  name: string;
  /**
   * Returns a new backend instance on the same server state each call, as another process would
   * have. The suite closes every backend it created. A backend without `election` passes the
   * suite without checking anything.
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
   * Makes the server forget the term counter of an election nobody leads (as a restart without
   * persistence or an evicted counter would). When given, the suite checks that later terms
   * still exceed every earlier one.
   */
  loseTermState?(name: string): void | Promise<void>;
  /**
   * The backend keeps a candidate queue (`queue: true` requests wait their turn in arrival
   * order): the suite then checks the order, the waiter leases and `abandon`. Backends without
   * one grant to whoever asks first after the leader goes, and skip those checks.
   * @default false
   */
  candidateQueue?: boolean;
  /**
   * More election names the adapter wants checked as plain data, on top of the suite's own.
   * @default []
   */
  keys?: readonly string[];
}

/** What each part of the election SPI suite gets: helpers bound to one run. */
export interface ElectionSpiContext extends SpiSuiteContext {
  readonly options: ElectionSpiSuiteOptions;
  /** The election operations of a fresh backend, or `undefined` when it has none. */
  election(): Promise<ElectionBackend | undefined>;
}

/** A campaign with the suite's defaults (10 s lease, no queue, a value naming the owner). */
export function campaignRequest(
  key: string,
  owner: string = newOwner(),
  overrides: Partial<CampaignRequest> = {},
): CampaignRequest {
  return { key, owner, ttlMs: 10_000, value: `v-${owner.slice(0, 8)}`, queue: false, ...overrides };
}

export function createElectionSpiContext(
  options: ElectionSpiSuiteOptions,
): ElectionSpiContext & { closeAll(): Promise<void> } {
  const { run, shortTtl, timeoutMs, backend, closeAll } = spiRun(options);
  let counter = 0;
  return {
    options,
    shortTtl,
    backend,
    async election() {
      return (await backend()).election;
    },
    key: (label) => `dlock-election-spi:${run}:${label}:${++counter}`,
    test: (name, fn) => options.runner.it(name, fn, timeoutMs),
    lapse: lapser(options.advanceTime, timeoutMs),
    closeAll,
  };
}
