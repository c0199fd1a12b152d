import { randomUUID } from 'node:crypto';
import type { BackendCapabilities, LockBackend } from '../backend.js';
import { createLockClient } from '../client.js';
import type { LockClient, LockClientOptions } from '../types.js';

/** The parts of a test runner the kit uses; vitest, jest and node:test all fit. */
export interface TestRunner {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void> | void, timeoutMs?: number): void;
  beforeAll(fn: () => Promise<void> | void): void;
  afterAll(fn: () => Promise<void> | void): void;
}

/** Traits of the backend under test that change what the kit can expect. */
export interface BackendTraits {
  /**
   * A TTL short enough to wait out in tests, long enough for a round trip under load. Expiry,
   * watchdog and waiting tests scale with it.
   * Backends with whole-second TTLs (etcd) pass at least 1000 x their granularity.
   * @default 250
   */
  shortTtlMs?: number;
  /**
   * How many locks the clients of one run can hold at once, for backends that pin a connection
   * per held lock (MySQL's `get-lock` and `for-update` modes: a few less than the pool's size,
   * since inspect and other clients need connections too). The several-keys suite sizes its
   * largest set (100 keys) down to it.
   * @default Infinity
   */
  maxHeldLocks?: number;
}

/**
 * Faults the adapter can inflict on its own server state, for the tests that need them. Each is
 * optional: the kit runs a fault's tests only when the adapter provides it.
 */
export interface ConformanceFaults {
  /**
   * Make the server forget the fencing state of `key` (its counter, or whatever the next token
   * is derived from), as a restart without persistence, an expired or evicted counter, or a
   * failover to a replica that missed the last grants would. Called only while `key` is free.
   * Fencing tokens must still exceed every earlier token of the key afterwards.
   */
  loseFencingState?(key: string): Promise<void> | void;
}

export interface ConformanceOptions {
  /** Shown in the suite's title. */
  name: string;
  /**
   * Returns a new backend instance on the same server state each call, as another process would
   * have. The kit creates several (one per client) and closes them all.
   */
  createBackend(): LockBackend | Promise<LockBackend>;
  /**
   * Optional: a backend on the same server state that opens and owns its connections, as
   * `connect(url)` builds one. The shutdown test then checks that `close()` frees those too. Give
   * it when `createBackend` shares a driver the test file owns (a pool, an etcd3 client passed
   * in): what a shared driver keeps open (a pool grown by concurrent calls, a connection another
   * backend's stream keeps active) belongs to its owner, so the test cannot judge leaks there.
   */
  createOwnedBackend?(): LockBackend | Promise<LockBackend>;
  runner: TestRunner;
  traits?: BackendTraits;
  /** Faults the adapter can inflict (see `ConformanceFaults`). */
  faults?: ConformanceFaults;
}

/** What each suite gets: helpers bound to one conformance run. */
export interface Kit {
  readonly runner: TestRunner;
  /** The adapter's fault hooks (empty when it provides none). */
  readonly faults: ConformanceFaults;
  /** TTL used by timing-sensitive tests. */
  readonly ttl: number;
  /** See `BackendTraits.maxHeldLocks`. */
  readonly maxHeldLocks: number;
  /** A fresh backend on the shared server state (closed after the run unless a client owns it). */
  backend(): Promise<LockBackend>;
  /** A client on a fresh backend; closed after the run. */
  client(options?: LockClientOptions): Promise<LockClient>;
  /**
   * A fresh backend that owns its connections (`createOwnedBackend`), closed after the run, or
   * `undefined` when the adapter gives none.
   */
  ownedBackend(): Promise<LockBackend | undefined>;
  /** A key unique to this run, built from a readable name. */
  key(name: string): string;
  /** Test timeout: generous multiples of the TTL. */
  readonly timeoutMs: number;
  /** The backend's capabilities, known once the suite's beforeAll has run. */
  capabilities: BackendCapabilities | undefined;
}

export function createKit(options: ConformanceOptions): Kit & { closeAll(): Promise<void> } {
  const run = randomUUID().slice(0, 8);
  const ttl = options.traits?.shortTtlMs ?? 250;
  const clients = new Set<LockClient>();
  const backends = new Set<LockBackend>();
  return {
    runner: options.runner,
    faults: options.faults ?? {},
    ttl,
    maxHeldLocks: options.traits?.maxHeldLocks ?? Number.POSITIVE_INFINITY,
    capabilities: undefined,
    timeoutMs: Math.max(20_000, ttl * 40),
    async backend() {
      const backend = await options.createBackend();
      backends.add(backend);
      return backend;
    },
    async client(clientOptions?: LockClientOptions) {
      const backend = await options.createBackend();
      const client = createLockClient(backend, { ttlMs: ttl, ...clientOptions });
      clients.add(client);
      return client;
    },
    async ownedBackend() {
      if (!options.createOwnedBackend) return undefined;
      const backend = await options.createOwnedBackend();
      backends.add(backend);
      return backend;
    },
    key(name: string) {
      return `dlock-kit:${run}:${name}`;
    },
    async closeAll() {
      await Promise.allSettled([...clients].map((c) => c.close()));
      await Promise.allSettled([...backends].map((b) => b.close()));
      clients.clear();
      backends.clear();
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition` holds, checking every few ms, failing after `withinMs`. */
export async function eventually(
  what: string,
  condition: () => boolean | Promise<boolean>,
  withinMs: number,
): Promise<void> {
  const end = performance.now() + withinMs;
  while (!(await condition())) {
    if (performance.now() > end) throw new Error(`Not within ${withinMs} ms: ${what}`);
    await sleep(5);
  }
}
