/**
 * Cross-process scenarios for leader elections, run by every adapter's suite against its real
 * server(s) with real child processes:
 *
 * - `runLeaderKill`: a leader process renews its leadership while a rival in the test process
 *   campaigns; the rival is not granted while the leader lives, and is granted after the
 *   leader's SIGKILL (about one TTL later: the time is reported, not asserted), with a higher
 *   term.
 * - `runLeaderFreeze`: a leader process is SIGSTOPped past its TTL; the rival leads; on SIGCONT
 *   the frozen leader's first look finds its signal aborted, and it never writes after the
 *   rival's grant.
 * - `runLeaderHistory`: K processes campaign, lead briefly and resign, in a loop; leader
 *   intervals never overlap and terms strictly increase in the order leaders were granted.
 *
 * Worker side: a per-backend script builds a lock client with `electionWorkerConfig().ttlMs` and
 * calls `runElectionWorker({ locks })`. Who led when is judged from one event log, a file every
 * process appends to with O_APPEND (one `write` per line, so the file's order is the order of
 * the events), never from clocks compared across processes: `+ <term>` right after a grant,
 * `w <term>` for each write a leader makes (only while its signal reads not aborted: the guard
 * every leader is meant to use), `- <term>` before it resigns.
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { eventLog } from './event-log.js';
import { type ManagedProcess, spawnNodeWorker } from './processes.js';

const ENV = {
  mode: 'DLOCK_ELECTION_MODE',
  name: 'DLOCK_ELECTION_NAME',
  ttl: 'DLOCK_ELECTION_TTL_MS',
  rounds: 'DLOCK_ELECTION_ROUNDS',
  log: 'DLOCK_ELECTION_LOG',
} as const;

type ElectionMode = 'lead-kill' | 'lead-freeze' | 'lead-loop';
const MODES: readonly ElectionMode[] = ['lead-kill', 'lead-freeze', 'lead-loop'];

/** A won campaign as the scenarios use it (`@dlock/lock-core`'s `Leadership` fits). */
export interface LeadershipLike {
  readonly term: bigint;
  readonly signal: AbortSignal;
  readonly held: boolean;
  resign(): Promise<boolean>;
}

/** The part of a lock client the scenarios use (`@dlock/lock-core`'s `LockClient` fits). */
export interface ElectionLocks {
  election(
    name: string,
    options: { value: string },
  ): { campaign(options: { waitTimeoutMs: number }): Promise<LeadershipLike> };
}

/** What the harness tells a worker; build the worker's client with `ttlMs`. */
export interface ElectionWorkerConfig {
  readonly mode: ElectionMode;
  readonly name: string;
  readonly ttlMs: number;
  readonly rounds: number;
  /** The event log to append to. */
  readonly log: string;
}

export function electionWorkerConfig(env: NodeJS.ProcessEnv = process.env): ElectionWorkerConfig {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: start this worker with an election scenario`);
    return value;
  };
  const mode = read(ENV.mode) as ElectionMode;
  if (!MODES.includes(mode)) throw new Error(`unknown ${ENV.mode}: ${mode}`);
  return {
    mode,
    name: read(ENV.name),
    ttlMs: Number(read(ENV.ttl)),
    rounds: Number(env[ENV.rounds] ?? 1),
    log: read(ENV.log),
  };
}

/** What a frozen leader saw at its first look after waking. */
export interface LeaderWokeReport {
  readonly aborted: boolean;
  readonly held: boolean;
  readonly term: string;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A leader's write, guarded by its signal: the pattern the scenarios check. */
function guardedWrite(log: string, leadership: LeadershipLike): boolean {
  if (leadership.signal.aborted) return false;
  appendFileSync(log, `w ${leadership.term}\n`);
  return true;
}

/**
 * The worker body. `lead-kill`: campaign, print `LEADER <term>`, `RENEWED` after each renewal,
 * run until killed. `lead-freeze`: campaign, print `LEADER <term>`, write every 10 ms while the
 * signal allows; when a tick finds the process was frozen (a gap of over half the TTL), look at
 * the signal first, print `WOKE <json>` and exit. `lead-loop`: `rounds` times campaign, write a
 * few times, resign.
 */
export async function runElectionWorker(options: { readonly locks: ElectionLocks }): Promise<void> {
  const { mode, name, ttlMs, rounds, log } = electionWorkerConfig();
  const election = options.locks.election(name, { value: `pid-${process.pid}` });
  if (mode === 'lead-loop') {
    for (let i = 0; i < rounds; i++) {
      const leadership = await election.campaign({ waitTimeoutMs: 60_000 });
      appendFileSync(log, `+ ${leadership.term}\n`);
      for (let w = 0; w < 3; w++) {
        guardedWrite(log, leadership);
        await pause(2);
      }
      appendFileSync(log, `- ${leadership.term}\n`);
      await leadership.resign();
    }
    return;
  }
  if (mode === 'lead-kill') {
    subscribe('dlock:extend', (message) => {
      const m = message as { ok?: boolean; watchdog?: boolean };
      if (m.ok && m.watchdog) console.log('RENEWED');
    });
  }
  const leadership = await election.campaign({ waitTimeoutMs: 10_000 });
  appendFileSync(log, `+ ${leadership.term}\n`);
  if (mode === 'lead-kill') {
    console.log(`LEADER ${leadership.term}`);
    // Runs until killed; the watchdog's timer is unref'd, so an interval keeps the process alive.
    setInterval(() => {}, 60_000);
    return new Promise<never>(() => {});
  }
  const woke = await new Promise<LeaderWokeReport>((resolve) => {
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      const frozen = now - last > ttlMs / 2;
      last = now;
      if (frozen) {
        // The first thing that runs on waking: the signal must already say "lost".
        const aborted = leadership.signal.aborted;
        clearInterval(ticker);
        resolve({ aborted, held: leadership.held, term: String(leadership.term) });
        return;
      }
      guardedWrite(log, leadership);
    }, 10);
    // Printed once the ticker runs: a stop that lands right after it is measured from `last`.
    console.log(`LEADER ${leadership.term}`);
  });
  // One more guarded write after waking: it must be refused too.
  guardedWrite(log, leadership);
  console.log(`WOKE ${JSON.stringify(woke)}`);
}

export interface ElectionScenarioBase {
  /** Builds the backend's client with `electionWorkerConfig().ttlMs`, calls `runElectionWorker`. */
  readonly workerScript: string;
  /** Extra environment for the workers (the backend's connection settings). */
  readonly env?: Record<string, string>;
  /** The election's name. */
  readonly name: string;
  /** The leaders' TTL (short: 1-3 s). */
  readonly ttlMs: number;
  /** Started workers are also pushed here, so an `afterAll` can kill them after a timeout. */
  readonly track?: ManagedProcess[];
}

export interface ElectionRivalOptions extends ElectionScenarioBase {
  /** A lock client in the test process on the same backend (its `ttlMs` as the workers'). */
  readonly rival: ElectionLocks;
}

export interface ElectionFailoverReport {
  /** From the SIGKILL or SIGSTOP to the rival's campaign resolving, in milliseconds. */
  readonly grantedAfterMs: number;
  readonly ttlMs: number;
  readonly leaderTerm: bigint;
  readonly rivalTerm: bigint;
}

function fail(scenario: string, message: string, workers: readonly ManagedProcess[] = []): never {
  const output = workers.map((w) => `\n--- ${w.name}:\n${w.output()}`).join('');
  throw new Error(`${scenario} scenario: ${message}${output}`);
}

async function startWorker(
  mode: ElectionMode,
  o: ElectionScenarioBase,
  log: string,
  index = 0,
  rounds = 1,
): Promise<ManagedProcess> {
  const worker = await spawnNodeWorker(o.workerScript, {
    name: `election-${mode}-${index}`,
    env: {
      ...o.env,
      [ENV.mode]: mode,
      [ENV.name]: o.name,
      [ENV.ttl]: String(o.ttlMs),
      [ENV.rounds]: String(rounds),
      [ENV.log]: log,
    },
  });
  o.track?.push(worker);
  return worker;
}

/**
 * Checks an event log: terms of `+` lines strictly increase, and once a leader of a higher term
 * was granted, no line of a lower term follows (no write, no grant): leader intervals, from the
 * grant to the last write, never overlap. Returns the terms in grant order.
 */
export function checkLeaderLog(lines: readonly string[]): bigint[] {
  const terms: bigint[] = [];
  let current = -1n;
  for (const [i, line] of lines.entries()) {
    const [kind, raw] = line.split(' ');
    const term = BigInt(raw!);
    if (kind === '+') {
      if (term <= current) {
        throw new Error(`line ${i + 1}: leader of term ${term} granted after term ${current}`);
      }
      current = term;
      terms.push(term);
    } else if (kind === 'w' && term !== current) {
      throw new Error(`line ${i + 1}: a write of term ${term} while term ${current} leads`);
    }
  }
  return terms;
}

/**
 * Kill: the rival waits while the leader process renews `renewals` times (it must not lead
 * meanwhile), then the leader is SIGKILLed; the rival's campaign must resolve (the time is
 * reported: about one TTL), with a higher term.
 */
export async function runLeaderKill(
  o: ElectionRivalOptions & { readonly renewals?: number },
): Promise<ElectionFailoverReport> {
  const renewals = o.renewals ?? 3;
  const log = eventLog('dlock-election-log');
  const worker = await startWorker('lead-kill', o, log.path);
  try {
    const leaderTerm = BigInt((await worker.waitForOutput(/LEADER (\d+)/, 20_000))[1]!);
    let grantedAt: number | undefined;
    const granted = o.rival
      .election(o.name, { value: 'rival' })
      .campaign({ waitTimeoutMs: (renewals + 10) * o.ttlMs + 10_000 })
      .then((leadership) => {
        grantedAt = performance.now();
        appendFileSync(log.path, `+ ${leadership.term}\n`);
        return leadership;
      });
    granted.catch(() => {}); // awaited below; no unhandled rejection meanwhile
    await worker.waitForOutput(
      new RegExp(`(?:RENEWED\\n[^]*){${renewals}}`),
      (renewals + 2) * o.ttlMs + 10_000,
    );
    if (grantedAt !== undefined)
      fail('leader kill', 'the rival led while the leader lived', [worker]);
    process.kill(worker.pid, 'SIGKILL');
    const killedAt = performance.now();
    await worker.exited;
    const leadership = await granted.catch((error: unknown) =>
      fail('leader kill', `the rival never led after the kill: ${String(error)}`, [worker]),
    );
    await leadership.resign();
    if (!(leaderTerm < leadership.term)) {
      fail('leader kill', `leader term ${leaderTerm} not below the rival's ${leadership.term}`);
    }
    checkLeaderLog(log.lines());
    return {
      grantedAfterMs: grantedAt! - killedAt,
      ttlMs: o.ttlMs,
      leaderTerm,
      rivalTerm: leadership.term,
    };
  } finally {
    await worker.kill();
    log.done();
  }
}

/**
 * Freeze: the leader process is stopped while it leads and writes; the rival must lead (the time
 * from the stop is reported); on SIGCONT the frozen leader's first look must find its signal
 * aborted and `held` false, and the log must show no write of the old term after the rival's
 * grant.
 */
export async function runLeaderFreeze(o: ElectionRivalOptions): Promise<ElectionFailoverReport> {
  const log = eventLog('dlock-election-log');
  const worker = await startWorker('lead-freeze', o, log.path);
  try {
    const leaderTerm = BigInt((await worker.waitForOutput(/LEADER (\d+)/, 20_000))[1]!);
    process.kill(worker.pid, 'SIGSTOP');
    const stoppedAt = performance.now();
    const leadership = await o.rival
      .election(o.name, { value: 'rival' })
      .campaign({ waitTimeoutMs: 10 * o.ttlMs + 10_000 })
      .catch((error: unknown) =>
        fail('leader freeze', `the rival never led: ${String(error)}`, [worker]),
      );
    const grantedAfterMs = performance.now() - stoppedAt;
    appendFileSync(log.path, `+ ${leadership.term}\n`);
    guardedWrite(log.path, leadership);
    process.kill(worker.pid, 'SIGCONT');
    const woke = JSON.parse(
      (await worker.waitForOutput(/WOKE (.+)/, 10_000))[1]!,
    ) as LeaderWokeReport;
    const exit = await worker.exited;
    guardedWrite(log.path, leadership);
    await leadership.resign();
    if (!woke.aborted) fail('leader freeze', 'the signal read not aborted after waking', [worker]);
    if (woke.held) fail('leader freeze', 'leadership.held read true after waking', [worker]);
    if (!(leaderTerm < leadership.term)) {
      fail('leader freeze', `leader term ${leaderTerm} not below the rival's ${leadership.term}`);
    }
    try {
      checkLeaderLog(log.lines());
    } catch (error) {
      fail('leader freeze', `leader intervals overlap: ${(error as Error).message}`, [worker]);
    }
    if (exit.code !== 0) fail('leader freeze', `leader exited with ${exit.code}`, [worker]);
    return { grantedAfterMs, ttlMs: o.ttlMs, leaderTerm, rivalTerm: leadership.term };
  } finally {
    if (worker.child.exitCode === null) process.kill(worker.pid, 'SIGCONT');
    await worker.kill();
    log.done();
  }
}

export interface LeaderHistoryOptions extends ElectionScenarioBase {
  /** @default 3 */
  readonly processes?: number;
  /** Campaigns per process. @default 10 */
  readonly rounds?: number;
}

/** K processes lead in turn: no overlap, terms strictly increasing. Returns the number of terms. */
export async function runLeaderHistory(o: LeaderHistoryOptions): Promise<{ terms: number }> {
  const processes = o.processes ?? 3;
  const rounds = o.rounds ?? 10;
  const log = eventLog('dlock-election-log');
  const workers = await Promise.all(
    Array.from({ length: processes }, (_, i) => startWorker('lead-loop', o, log.path, i, rounds)),
  );
  try {
    const exits = await Promise.all(workers.map((w) => w.exited));
    if (exits.some((e) => e.code !== 0)) fail('leader history', 'a worker failed', workers);
    let terms: bigint[];
    try {
      terms = checkLeaderLog(log.lines());
    } catch (error) {
      fail('leader history', (error as Error).message);
    }
    if (terms.length !== processes * rounds) {
      fail('leader history', `${terms.length} terms, expected ${processes * rounds}`, workers);
    }
    return { terms: terms.length };
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    log.done();
  }
}

/** One line for the test log: the figure the closing notes and docs quote. */
export function describeElectionReport(
  backend: string,
  scenario: 'kill' | 'freeze',
  r: ElectionFailoverReport,
): string {
  return `[election] ${backend} ${scenario}: next leader after ${Math.round(r.grantedAfterMs)} ms from the ${
    scenario === 'kill' ? 'SIGKILL' : 'SIGSTOP'
  } (TTL ${r.ttlMs} ms)`;
}
