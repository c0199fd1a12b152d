/**
 * Fair mode across processes (issue 13's performance target): 8 processes (fair-worker.ts, one
 * task each) share ~1 ms sections on one Redis key. Contenders: @dlock/lock-redis with
 * `fair: true` and with its default, redis-semaphore's Mutex and node-redlock v5 (the redis
 * suite's settings), and the ideal (the same sections one after another, no lock). Alternating
 * rounds, as every suite. Beside sections/s: the client round trips and server commands per
 * section (a section is one hand-off), and the share of contended grants that went to the
 * longest waiter.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { FairReport, FairRun } from './fair-worker.js';
import { type Contender, compare, print, type Result } from './harness.js';
import { commandsProcessed, deleteKeys, sampleTable } from './peers.js';

const URL = process.env.DLOCK_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PROCESSES = 8;
const SECTIONS = 800;
const ROUNDS = 5;

/** Starts the worker processes; resolves them with the contenders' names they offer. */
async function startWorkers(prefix: string): Promise<{ workers: ChildProcess[]; peers: string[] }> {
  const workers = Array.from({ length: PROCESSES }, () =>
    fork(new globalThis.URL('./fair-worker.ts', import.meta.url), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, FAIR_PREFIX: prefix },
    }),
  );
  const names = await Promise.all(
    workers.map(
      (w) =>
        new Promise<string[]>((resolve, reject) => {
          w.once('message', (m) => resolve((m as { ready: string[] }).ready));
          w.once('exit', (code) => reject(new Error(`fair worker exited (${code})`)));
        }),
    ),
  );
  return { workers, peers: names[0]! };
}

function runOn(worker: ChildProcess, run: FairRun): Promise<FairReport> {
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      const error = (m as { error?: string }).error;
      if (error) reject(new Error(error));
      else resolve(m as FairReport);
    });
    worker.send(run);
  });
}

/**
 * Of the grants made while others waited too, the share that went to the caller that had waited
 * longest (asked first among those waiting at that moment).
 */
function longestWaiterShare(takes: readonly (readonly [number, number])[]): number {
  const sorted = [...takes].sort((a, b) => a[1] - b[1]);
  let contended = 0;
  let longest = 0;
  for (const [asked, granted] of sorted) {
    let first = asked;
    let waiting = 0;
    for (const [a, g] of sorted) {
      if (a < granted && g >= granted) {
        waiting++;
        if (a < first) first = a;
      }
    }
    if (waiting < 2) continue;
    contended++;
    if (first === asked) longest++;
  }
  return contended === 0 ? 1 : longest / contended;
}

export async function fairBench(): Promise<Result[]> {
  const redis = new Redis(URL, { maxRetriesPerRequest: 1 });
  const prefix = `dlock-bench:fair:${process.pid}:`;
  const { workers, peers } = await startWorkers(prefix);
  const results: Result[] = [];
  const trips = new Map<string, number[]>(peers.map((p) => [p, []]));
  const commands = new Map<string, number[]>(peers.map((p) => [p, []]));
  const longest = new Map<string, number[]>(peers.map((p) => [p, []]));
  let round = 0;
  try {
    const ideal: Contender = {
      name: 'ideal: the same sections run one after another, no lock',
      async round() {
        const started = performance.now();
        for (let i = 0; i < SECTIONS; i++) await sleep(1);
        return SECTIONS / ((performance.now() - started) / 1000);
      },
    };
    const contenders = peers.map(
      (peer): Contender => ({
        name: peer,
        async round() {
          const key = `contended:${round++}`;
          const before = await commandsProcessed(redis);
          const startAt = Date.now() + 100;
          const reports = await Promise.all(
            workers.map((w, index) =>
              runOn(w, {
                peer,
                key,
                sections: SECTIONS / PROCESSES,
                startAt,
                index,
                of: PROCESSES,
              }),
            ),
          );
          const after = await commandsProcessed(redis);
          const seconds = (Math.max(...reports.map((r) => r.finishedAt)) - startAt) / 1000;
          const requests = reports.reduce((sum, r) => sum + r.requests, 0);
          trips.get(peer)!.push(requests / SECTIONS);
          // Minus the INFO call that took the first reading.
          commands.get(peer)!.push((after - before - 1) / SECTIONS);
          longest.get(peer)!.push(longestWaiterShare(reports.flatMap((r) => r.takes)));
          return SECTIONS / seconds;
        },
      }),
    );
    results.push(
      await compare({
        title: `fair: ${PROCESSES} processes x 1 key on Redis, ${SECTIONS} sections of ~1 ms (one task per process)`,
        unit: 'sections/s',
        higherIsBetter: true,
        baseline: ideal.name,
        rounds: ROUNDS,
        notes: [
          `Each process runs ${SECTIONS / PROCESSES} sections, asking again right after each release; a round`,
          'ends when the last process is done. The peers poll (redis-semaphore every 10 ms, node-redlock',
          'every 10-20 ms); dlock waits for the release message (fair: only the head process gets one).',
          'The floor is no lock: one token passed round the 8 processes by PUBLISH, so every section',
          'waits for one cross-process hop through Redis and nothing else; no FIFO hand-off between',
          'processes through Redis can beat it. The peers barge (the releasing process takes the key',
          'straight back, see the share of grants to the longest waiter below), so they rarely pay it.',
          'Targets (issue 13): fair >= 0.7x the ideal and >= 1.5x the best of the two peers.',
        ],
        contenders: [ideal, ...contenders],
      }),
    );
    const dlockFair = peers[0]!;
    const tripTable = sampleTable(
      'fair: client round trips per section (one hand-off), same rounds',
      'requests/section',
      dlockFair,
      trips,
      [
        'Requests written to Redis by the 8 processes (each command on its own, a pipeline once),',
        'counted in the processes: subscriptions included, pub/sub deliveries not.',
      ],
    );
    const commandTable = sampleTable(
      'fair: server commands per section, same rounds (INFO total_commands_processed)',
      'commands/section',
      dlockFair,
      commands,
      [
        'Every command the server processed, the calls inside Lua scripts included; other traffic',
        'on a shared server inflates it (the min column is the closest to the work itself).',
      ],
    );
    const longestTable: Result = {
      ...sampleTable(
        'fair: share of contended grants that went to the longest waiter, same rounds',
        'share',
        dlockFair,
        longest,
        [
          'A grant made while at least one other process waited counts; it went to the longest',
          'waiter if no waiting process had asked earlier (wall clocks of one machine, sub-ms).',
        ],
      ),
      higherIsBetter: true,
    };
    for (const table of [tripTable, commandTable, longestTable]) {
      print(table);
      results.push(table);
    }
  } finally {
    for (const w of workers) w.send('exit');
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
    await deleteKeys(redis, `${prefix}*`);
    await redis.quit();
  }
  return results;
}
