import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { median, type Result } from './harness.js';

/** A lock implementation under comparison: take `key` (waiting while busy), get its release. */
export interface Peer {
  readonly name: string;
  lock(key: string): Promise<() => Promise<unknown>>;
}

/** `tasks` concurrent tasks share `sections` sections of ~1 ms, each under `take()`. */
export async function sectionsPerSecond(
  tasks: number,
  sections: number,
  take: (i: number) => Promise<() => Promise<unknown>>,
): Promise<number> {
  let left = sections;
  let started = 0;
  const begun = performance.now();
  await Promise.all(
    Array.from({ length: tasks }, async () => {
      while (left > 0) {
        const release = await take(started++);
        try {
          if (left > 0) {
            left--;
            await sleep(1);
          }
        } finally {
          await release();
        }
      }
    }),
  );
  return sections / ((performance.now() - begun) / 1000);
}

/**
 * `waiters` concurrent tasks in one process share `sections` critical sections of about 1 ms on
 * one key; resolves the sections per second.
 */
export function handOff(
  peer: Peer,
  key: string,
  { waiters, sections }: { waiters: number; sections: number },
): Promise<number> {
  return sectionsPerSecond(waiters, sections, () => peer.lock(key));
}

/** Anything that answers `INFO` (an ioredis client). */
export interface InfoSource {
  info(section: string): Promise<string>;
}

/** Server-side cost counters so far, summed over `servers`, in µs. */
export interface ServerCost {
  /**
   * Time spent in scripts (`INFO commandstats`, EVALSHA/EVAL: a script's inner calls included).
   * Inner calls are also listed under their own names, so summing every command would count
   * them twice; a peer's plain commands (the floor's `SET`) are not in this figure.
   */
  readonly scripts: number;
  /** The server process's CPU time (`INFO cpu`, user + sys): parsing, I/O and scripts. */
  readonly cpu: number;
}

export async function serverCost(servers: readonly InfoSource[]): Promise<ServerCost> {
  let scripts = 0;
  let cpu = 0;
  for (const server of servers) {
    const info = await server.info('all');
    for (const match of info.matchAll(
      /^cmdstat_(evalsha|eval|evalsha_ro|eval_ro):.*?usec=(\d+)/gm,
    )) {
      scripts += Number(match[2]);
    }
    for (const match of info.matchAll(/^used_cpu_(?:sys|user):([\d.]+)/gm)) {
      cpu += Number(match[1]) * 1e6;
    }
  }
  return { scripts, cpu };
}

/** A table row per contender from per-round samples (lower is better, ratio to `baseline`). */
export function sampleTable(
  title: string,
  unit: string,
  baseline: string,
  samples: ReadonlyMap<string, readonly number[]>,
  notes: readonly string[],
): Result {
  const base = median(samples.get(baseline) ?? []);
  return {
    title,
    unit,
    baseline,
    higherIsBetter: false,
    rows: [...samples].map(([name, values]) => ({
      name,
      median: median(values),
      min: Math.min(...values),
      max: Math.max(...values),
      ratio: median(values) / base,
      samples: values,
    })),
    notes,
  };
}

/** Commands the server processed so far (`INFO stats`). */
export async function commandsProcessed(redis: InfoSource): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** Deletes the keys matching `pattern` (a benchmark's own prefix). */
export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
