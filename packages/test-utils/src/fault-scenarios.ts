/**
 * The freeze and kill scenarios, run by every adapter's suite against its real server(s): a holder
 * in a child process is frozen (SIGSTOP) past its TTL or killed (SIGKILL) after its watchdog kept
 * the lock for several TTLs, and a contender in the test process must get the lock within the
 * TTL plus a stated slack, never before. The frozen holder must see the loss at its first look
 * after waking, before any I/O of its own, and hold an older fencing token than the new holder.
 *
 * Worker side: a small per-backend script builds a lock client with `faultHolderConfig().ttlMs`
 * and calls `runFaultHolder({ locks })`. Test side: `runFreezeScenario` / `runKillScenario`.
 */
import { subscribe } from 'node:diagnostics_channel';
import { type ManagedProcess, spawnNodeWorker } from './processes.js';

const ENV = {
  mode: 'DLOCK_FAULT_MODE',
  key: 'DLOCK_FAULT_KEY',
  ttl: 'DLOCK_FAULT_TTL_MS',
} as const;

type FaultMode = 'freeze' | 'kill';

/** The part of a lock client the holder uses (`@dlock/lock-core`'s `LockClient` fits). */
export interface FaultHolderLocks {
  using(
    key: string,
    fn: (
      signal: AbortSignal,
      lock: { readonly fencingToken: bigint; readonly held: boolean },
    ) => Promise<void>,
    options: { waitTimeoutMs: number },
  ): Promise<unknown>;
  acquire(
    key: string,
    options: { autoExtend: boolean; waitTimeoutMs: number },
  ): Promise<{ readonly fencingToken: bigint }>;
}

/** What the harness tells a holder worker. */
export interface FaultHolderConfig {
  readonly mode: FaultMode;
  readonly key: string;
  /** Build the worker's lock client with this `ttlMs`. */
  readonly ttlMs: number;
}

/** What a frozen holder saw at its first look after waking. */
export interface WokeReport {
  /** `signal.aborted` of the `using` callback's signal. */
  readonly aborted: boolean;
  /** Whether `signal.throwIfAborted()` threw. */
  readonly threw: boolean;
  /** `lock.held`. */
  readonly held: boolean;
  readonly token: string;
}

export function faultHolderConfig(env: NodeJS.ProcessEnv = process.env): FaultHolderConfig {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: start this worker with a fault scenario`);
    return value;
  };
  const mode = read(ENV.mode);
  if (mode !== 'freeze' && mode !== 'kill') throw new Error(`unknown ${ENV.mode}: ${mode}`);
  return { mode, key: read(ENV.key), ttlMs: Number(read(ENV.ttl)) };
}

/**
 * The worker body. `freeze`: holds the key under `using`, prints `HELD <token>`, and when it finds
 * it was frozen (for over half its TTL) looks at its signal and lock at once (the first thing it
 * runs on waking, before any I/O), prints `WOKE <json>` and returns from the callback. `kill`: takes
 * the key with the watchdog on, prints `HELD <token>` and `RENEWED` after each renewal, and never
 * returns: it runs until it is killed.
 */
export async function runFaultHolder(options: { readonly locks: FaultHolderLocks }): Promise<void> {
  const { mode, key, ttlMs } = faultHolderConfig();
  const { locks } = options;
  if (mode === 'kill') {
    subscribe('dlock:extend', (message) => {
      const m = message as { ok?: boolean; watchdog?: boolean };
      if (m.ok && m.watchdog) console.log('RENEWED');
    });
    const lock = await locks.acquire(key, { autoExtend: true, waitTimeoutMs: 10_000 });
    console.log(`HELD ${lock.fencingToken}`);
    // Never returns (the caller would close the client): runs until killed. The watchdog's
    // timer is unref'd, so an interval keeps the process alive.
    setInterval(() => {}, 60_000);
    return new Promise<never>(() => {});
  }
  await locks.using(
    key,
    async (signal, lock) => {
      // A 10 ms ticker notices the freeze as a gap of over half the TTL between two ticks (the
      // freeze lasts until the lease runs out, at least two thirds of a TTL after the last
      // renewal). Its timer is due before the watchdog's next event (almost always: that is up
      // to ttl/3 away), so on waking the first code to run is this look, not the expiry check.
      const woke = new Promise<WokeReport>((resolve) => {
        let last = performance.now();
        const ticker = setInterval(() => {
          const now = performance.now();
          const frozen = now - last > ttlMs / 2;
          last = now;
          if (!frozen) return;
          clearInterval(ticker);
          const aborted = signal.aborted;
          let threw = false;
          try {
            signal.throwIfAborted();
          } catch {
            threw = true;
          }
          resolve({ aborted, threw, held: lock.held, token: String(lock.fencingToken) });
        }, 10);
      });
      // Printed once the ticker runs: a stop that lands right after it is measured from `last`.
      console.log(`HELD ${lock.fencingToken}`);
      console.log(`WOKE ${JSON.stringify(await woke)}`);
    },
    { waitTimeoutMs: 10_000 },
  );
}

/** The contender, in the test process (`@dlock/lock-core`'s `LockClient` fits). */
export interface FaultContenderLocks {
  acquire(
    key: string,
    options: { waitTimeoutMs: number },
  ): Promise<{ readonly fencingToken: bigint; release(): Promise<boolean> }>;
}

export interface FaultScenarioOptions {
  /** Builds the backend's lock client with `faultHolderConfig().ttlMs`, calls `runFaultHolder`. */
  readonly workerScript: string;
  /** Extra environment for the worker (the backend's connection settings). */
  readonly env?: Record<string, string>;
  readonly key: string;
  /** The holder's lock TTL (short: 1-3 s). */
  readonly ttlMs: number;
  /** A lock client in the test process on the same backend. */
  readonly contender: FaultContenderLocks;
  /**
   * How much later than the TTL the contender may be granted: the backend's expiry granularity
   * plus the contender's wake-up (safety re-check or poll interval).
   * @default 1500
   */
  readonly slackMs?: number;
  /** The started worker is also pushed here, so an `afterAll` can kill it after a timeout. */
  readonly track?: ManagedProcess[];
}

export interface FaultScenarioReport {
  /** From SIGSTOP (freeze) or SIGKILL (kill) to the contender's grant, in milliseconds. */
  readonly grantedAfterMs: number;
  readonly ttlMs: number;
  readonly holderToken: bigint;
  readonly contenderToken: bigint;
}

function fail(scenario: string, message: string, worker?: ManagedProcess): never {
  const output = worker ? `\nHolder output:\n${worker.output()}` : '';
  throw new Error(`${scenario} scenario: ${message}${output}`);
}

async function startHolder(mode: FaultMode, o: FaultScenarioOptions): Promise<ManagedProcess> {
  const worker = await spawnNodeWorker(o.workerScript, {
    name: `fault-${mode}`,
    env: { ...o.env, [ENV.mode]: mode, [ENV.key]: o.key, [ENV.ttl]: String(o.ttlMs) },
  });
  o.track?.push(worker);
  return worker;
}

/**
 * Freeze: the holder is stopped while it holds the key under `using`; the contender must be
 * granted within TTL + slack of the stop; on SIGCONT the holder's first look must say "lost"
 * (signal aborted, throwIfAborted throws, held false), and its token must be below the
 * contender's. Throws with the evidence otherwise.
 */
export async function runFreezeScenario(o: FaultScenarioOptions): Promise<FaultScenarioReport> {
  const slackMs = o.slackMs ?? 1_500;
  const worker = await startHolder('freeze', o);
  try {
    const held = await worker.waitForOutput(/HELD (\d+)/, 20_000);
    const holderToken = BigInt(held[1]!);
    process.kill(worker.pid, 'SIGSTOP');
    const stoppedAt = performance.now();
    const lock = await o.contender
      .acquire(o.key, { waitTimeoutMs: o.ttlMs + slackMs })
      .catch((error: unknown) =>
        fail('freeze', `contender not granted within TTL + slack: ${String(error)}`, worker),
      );
    const grantedAfterMs = performance.now() - stoppedAt;
    process.kill(worker.pid, 'SIGCONT');
    const woke = JSON.parse((await worker.waitForOutput(/WOKE (.+)/, 10_000))[1]!) as WokeReport;
    const exit = await worker.exited;
    await lock.release();
    if (!woke.aborted)
      fail('freeze', "the callback's signal read not aborted after waking", worker);
    if (!woke.threw) fail('freeze', 'throwIfAborted() did not throw after waking', worker);
    if (woke.held) fail('freeze', 'lock.held read true after waking', worker);
    if (BigInt(woke.token) !== holderToken) fail('freeze', 'holder token changed', worker);
    if (!(holderToken < lock.fencingToken)) {
      fail('freeze', `holder token ${holderToken} not below the contender's ${lock.fencingToken}`);
    }
    if (exit.code !== 0) fail('freeze', `holder exited with ${exit.code}/${exit.signal}`, worker);
    return { grantedAfterMs, ttlMs: o.ttlMs, holderToken, contenderToken: lock.fencingToken };
  } finally {
    if (worker.child.exitCode === null) process.kill(worker.pid, 'SIGCONT');
    await worker.kill();
  }
}

export interface KillScenarioOptions extends FaultScenarioOptions {
  /**
   * Watchdog renewals the holder must make while the contender waits, before the kill.
   * @default 6 (about two TTLs at one renewal per ttl/3)
   */
  readonly renewals?: number;
}

/**
 * Kill: the contender waits while the holder's watchdog renews `renewals` times (it must not be
 * granted meanwhile), then the holder is SIGKILLed; the contender must be granted within TTL +
 * slack of the kill, with a larger token.
 */
export async function runKillScenario(o: KillScenarioOptions): Promise<FaultScenarioReport> {
  const slackMs = o.slackMs ?? 1_500;
  const renewals = o.renewals ?? 6;
  const worker = await startHolder('kill', o);
  try {
    const holderToken = BigInt((await worker.waitForOutput(/HELD (\d+)/, 20_000))[1]!);
    let grantedAt: number | undefined;
    const waitMs = (renewals + 3) * o.ttlMs + slackMs;
    const granted = o.contender.acquire(o.key, { waitTimeoutMs: waitMs }).then((lock) => {
      grantedAt = performance.now();
      return lock;
    });
    granted.catch(() => {}); // awaited below; no unhandled rejection meanwhile
    const renewed = new RegExp(`(?:RENEWED\\n[^]*){${renewals}}`);
    await worker.waitForOutput(renewed, (renewals + 2) * o.ttlMs);
    if (grantedAt !== undefined) fail('kill', 'contender granted while the holder lived', worker);
    process.kill(worker.pid, 'SIGKILL');
    const killedAt = performance.now();
    await worker.exited;
    const lock = await granted.catch((error: unknown) =>
      fail('kill', `contender not granted after the kill: ${String(error)}`, worker),
    );
    await lock.release();
    const grantedAfterMs = grantedAt! - killedAt;
    if (grantedAfterMs < 0) fail('kill', 'contender granted before the holder died', worker);
    if (grantedAfterMs > o.ttlMs + slackMs) {
      fail('kill', `granted ${Math.round(grantedAfterMs)} ms after the kill, TTL ${o.ttlMs}`);
    }
    if (!(holderToken < lock.fencingToken)) {
      fail('kill', `holder token ${holderToken} not below the contender's ${lock.fencingToken}`);
    }
    return { grantedAfterMs, ttlMs: o.ttlMs, holderToken, contenderToken: lock.fencingToken };
  } finally {
    await worker.kill();
  }
}

/** One line for the test log: the figure the closing notes and docs quote. */
export function describeFaultReport(backend: string, scenario: FaultMode, r: FaultScenarioReport) {
  return `[fault] ${backend} ${scenario}: granted ${Math.round(r.grantedAfterMs)} ms after the ${
    scenario === 'freeze' ? 'SIGSTOP' : 'SIGKILL'
  } (TTL ${r.ttlMs} ms)`;
}
