import { performance } from 'node:perf_hooks';
import { channels, createLockClient, memoryBackend } from '@dlock/lock-core';
import { median, type Result } from './harness.js';

const WAITERS = 50_000;
/** One round per run: on the old, quadratic code a round took minutes. Run the suite thrice. */
const ROUNDS = 1;
/** The other lock of the same client: short, auto-extended (renewed about every 100 ms). */
const RENEWED_TTL_MS = 300;
/**
 * Waiters arrive, and abort, this many per turn of the event loop, as requests arriving over the
 * network would; one synchronous loop of 50,000 calls would be a block of the caller's making.
 */
const PER_TURN = 1_000;

interface Round {
  /** Event-loop busy time (ms) to queue the waiters, until every one is parked. */
  queueBusyMs: number;
  /** Longest single block of the event loop while queueing (ms). */
  queueBlockMs: number;
  drainBusyMs: number;
  drainWallMs: number;
  drainBlockMs: number;
  abortBusyMs: number;
  abortBlockMs: number;
  /** The same aborts with no lock involved: Node's own cost of `abort()` (DOMException, event). */
  bareAbortBusyMs: number;
  /** Heap growth per parked waiter (no signal), after GC. */
  bytesPerWaiter: number;
  /** The same with one AbortController per waiter (the controller counted too). */
  bytesPerAbortableWaiter: number;
  /** Longest gap between two renewals of the 300 ms lock (ms). */
  renewalGapMs: number;
  /** Renewals that came later than half the TTL after the previous one. */
  lateRenewals: number;
  /** Whether the renewed lock was lost during the round. */
  lost: number;
}

/**
 * 50,000 waiters on one key of one client (memoryBackend, watch strategy): queue them, drain them
 * (each releases at once), then queue 50,000 abortable ones and abort them all, while another lock
 * of the same client is held with a 300 ms TTL under the watchdog. Reports event-loop busy time
 * per phase (performance.eventLoopUtilization), the longest single block (monitorEventLoopDelay),
 * heap bytes per waiter, and whether the renewed lock's renewals stayed on time.
 */
export async function manyWaitersBench(): Promise<Result[]> {
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await oneRound());
  const rows: [string, string, (r: Round) => number][] = [
    ['queue: event-loop busy', 'ms', (r) => r.queueBusyMs],
    ['queue: longest event-loop block', 'ms', (r) => r.queueBlockMs],
    ['drain (each released at once): event-loop busy', 'ms', (r) => r.drainBusyMs],
    ['drain: wall time', 'ms', (r) => r.drainWallMs],
    ['drain: longest event-loop block', 'ms', (r) => r.drainBlockMs],
    ['abort (one AbortController each): event-loop busy', 'ms', (r) => r.abortBusyMs],
    ['abort: longest event-loop block', 'ms', (r) => r.abortBlockMs],
    ['baseline: the same aborts, no lock (one listener each)', 'ms', (r) => r.bareAbortBusyMs],
    ['heap per waiter (no signal)', 'bytes', (r) => r.bytesPerWaiter],
    ['heap per waiter (with its AbortController)', 'bytes', (r) => r.bytesPerAbortableWaiter],
    [
      `${RENEWED_TTL_MS} ms lock: longest gap between renewals (while held)`,
      'ms',
      (r) => r.renewalGapMs,
    ],
    [`${RENEWED_TTL_MS} ms lock: renewals later than TTL/2`, 'count', (r) => r.lateRenewals],
    [`${RENEWED_TTL_MS} ms lock: lost`, 'rounds', (r) => r.lost],
  ];
  const title = `lock-core: ${WAITERS.toLocaleString('en-US')} waiters on one key of one client (memoryBackend, watch), a ${RENEWED_TTL_MS} ms autoExtend lock held alongside`;
  console.log(`\n## ${title}\n`);
  console.log(`| measure | unit | median | min | max | rounds |`);
  console.log('| --- | --- | ---: | ---: | ---: | --- |');
  const results: Result[] = [];
  for (const [name, unit, pick] of rows) {
    const samples = rounds.map(pick);
    const m = median(samples);
    const [lo, hi] = [Math.min(...samples), Math.max(...samples)];
    console.log(
      `| ${name} | ${unit} | ${fmt(m)} | ${fmt(lo)} | ${fmt(hi)} | ${samples.map(fmt).join(', ')} |`,
    );
    results.push({
      title: `${title}: ${name}`,
      unit,
      baseline: name,
      higherIsBetter: false,
      rows: [{ name, median: m, min: lo, max: hi, ratio: 1, samples }],
      notes: [],
    });
  }
  console.log(
    '\nBusy = event-loop active time (performance.eventLoopUtilization) from the first call until' +
      ' every waiter is parked (queue), granted and released (drain) or rejected (abort). Waiters' +
      ` arrive and abort ${PER_TURN.toLocaleString('en-US')} per turn of the event loop. Heap per` +
      " waiter includes the caller's own promise and callback. The renewed lock renews when two" +
      ' thirds of its TTL remain (about every 100 ms); it is lost when the loop is blocked past' +
      ' its TTL. Gaps spanning a GC the bench forces (to weigh the heap) are left out.',
  );
  return results;
}

/** When the bench itself forced a GC (a block of its own making, left out of renewal gaps). */
const forcedGcs: [number, number][] = [];

function forcedGc(): void {
  const start = performance.now();
  globalThis.gc?.();
  forcedGcs.push([start, performance.now()]);
}

async function oneRound(): Promise<Round> {
  forcedGcs.length = 0;
  const client = createLockClient(memoryBackend(), { ttlMs: 30_000 });
  const renewals: number[] = [];
  const onExtend = (message: unknown): void => {
    if ((message as { key: string }).key === 'renewed') renewals.push(performance.now());
  };
  channels.extend.subscribe(onExtend);
  const renewed = await client.acquire('renewed', { ttlMs: RENEWED_TTL_MS, autoExtend: true });
  renewals.push(performance.now());
  const delay = new BlockProbe();
  try {
    // Let a couple of renewals happen first, so that the gaps measured include quiet ones.
    await sleep(250);

    // ---- queue, then drain ----
    // Long enough that the crowd's holder cannot expire however slow queueing is.
    const holder = await client.acquire('crowd', { ttlMs: 600_000 });
    forcedGc();
    const heapBefore = process.memoryUsage().heapUsed;
    let phase = await startPhase(delay);
    const waiting: Promise<unknown>[] = new Array(WAITERS);
    for (let i = 0; i < WAITERS; i++) {
      waiting[i] = client.acquire('crowd').then((lock) => lock.release());
      if ((i + 1) % PER_TURN === 0) await parked();
    }
    await parked();
    const queued = await endPhase(phase, delay);
    forcedGc();
    const bytesPerWaiter = (process.memoryUsage().heapUsed - heapBefore) / WAITERS;
    phase = await startPhase(delay);
    await holder.release();
    await Promise.all(waiting);
    const drained = await endPhase(phase, delay);
    waiting.fill(undefined as never);

    // ---- queue abortable waiters, then abort them all ----
    const holder2 = await client.acquire('crowd', { ttlMs: 600_000 });
    forcedGc();
    const heapBefore2 = process.memoryUsage().heapUsed;
    const controllers: AbortController[] = new Array(WAITERS);
    for (let i = 0; i < WAITERS; i++) {
      const controller = new AbortController();
      controllers[i] = controller;
      waiting[i] = client.acquire('crowd', { signal: controller.signal }).then(
        (lock) => lock.release(),
        () => {},
      );
      if ((i + 1) % PER_TURN === 0) await parked();
    }
    await parked();
    forcedGc();
    const bytesPerAbortableWaiter = (process.memoryUsage().heapUsed - heapBefore2) / WAITERS;
    phase = await startPhase(delay);
    for (let i = 0; i < WAITERS; i++) {
      controllers[i]!.abort();
      if ((i + 1) % PER_TURN === 0) await parked();
    }
    await Promise.all(waiting);
    const aborted = await endPhase(phase, delay);
    await holder2.release();

    await sleep(150); // one more renewal after the last phase
    // A lost lock renews no more: its last gap runs to the end of the round.
    renewals.push(performance.now());
    let gap = 0;
    let late = 0;
    for (let i = 1; i < renewals.length; i++) {
      const [from, to] = [renewals[i - 1]!, renewals[i]!];
      if (forcedGcs.some(([start, end]) => start < to && end > from)) continue;
      const d = to - from;
      gap = Math.max(gap, d);
      if (d > RENEWED_TTL_MS / 2) late++;
    }
    const lost = renewed.signal.aborted ? 1 : 0;
    // After the renewal figures: the baseline's own allocations are no business of theirs.
    const bareAbortBusyMs = await bareAborts();
    return {
      queueBusyMs: queued.busyMs,
      queueBlockMs: queued.blockMs,
      drainBusyMs: drained.busyMs,
      drainWallMs: drained.wallMs,
      drainBlockMs: drained.blockMs,
      abortBusyMs: aborted.busyMs,
      abortBlockMs: aborted.blockMs,
      bareAbortBusyMs,
      bytesPerWaiter,
      bytesPerAbortableWaiter,
      renewalGapMs: gap,
      lateRenewals: late,
      lost,
    };
  } finally {
    delay.stop();
    channels.extend.unsubscribe(onExtend);
    await renewed.release().catch(() => {});
    await client.close();
  }
}

interface Phase {
  readonly elu: ReturnType<typeof performance.eventLoopUtilization>;
  readonly start: number;
}

/** After a pause, so that a block before the phase (a forced GC) is not counted in it. */
async function startPhase(delay: BlockProbe): Promise<Phase> {
  await sleep(5);
  delay.reset();
  return { elu: performance.eventLoopUtilization(), start: performance.now() };
}

async function endPhase(
  phase: Phase,
  delay: BlockProbe,
): Promise<{ busyMs: number; wallMs: number; blockMs: number }> {
  const wallMs = performance.now() - phase.start;
  const busyMs = performance.eventLoopUtilization(phase.elu).active;
  // Give the probe a moment to record the phase's last block.
  await sleep(5);
  return { busyMs, wallMs, blockMs: delay.max };
}

/** Event-loop busy time of aborting WAITERS controllers that have one listener each. */
async function bareAborts(): Promise<number> {
  const controllers: AbortController[] = [];
  for (let i = 0; i < WAITERS; i++) {
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => {}, { once: true });
    controllers.push(controller);
    if ((i + 1) % PER_TURN === 0) await parked();
  }
  const elu = performance.eventLoopUtilization();
  for (let i = 0; i < WAITERS; i++) {
    controllers[i]!.abort();
    if ((i + 1) % PER_TURN === 0) await parked();
  }
  return performance.eventLoopUtilization(elu).active;
}

/** The longest gap between ticks of a 1 ms interval timer: the longest block of the loop. */
class BlockProbe {
  max = 0;
  #last = performance.now();
  readonly #timer = setInterval(() => {
    const now = performance.now();
    this.max = Math.max(this.max, now - this.#last);
    this.#last = now;
  }, 1);

  reset(): void {
    this.max = 0;
    this.#last = performance.now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Every waiter has run up to its first real wait: nothing is left in the microtask queue. */
function parked(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function fmt(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(value >= 10 ? 1 : 2);
}
