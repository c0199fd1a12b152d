/**
 * `pnpm bench -- <suite> --save` stores a run as Markdown under bench/results/, so that every
 * table published in a README can name the run it comes from (`bench/results/2026-12-01-redis-1.md`)
 * and anyone can read the machine and the whole output (min and max included) behind it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Machine {
  readonly nproc: number;
  readonly memoryGiB: number;
  readonly cpu: string;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average when the suite started: other work on the machine shows up here. */
  readonly loadAverage: number;
}

export function describeMachine(): Machine {
  return {
    nproc: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
  };
}

export interface SavedRun {
  readonly suite: string;
  /** When the suite started. */
  readonly date: Date;
  readonly machine: Machine;
  readonly command: string;
  /** Everything the suite printed (its tables and notes), as printed. */
  readonly output: string;
}

/** The stored form of one suite's run: a heading, the machine, then the suite's own output. */
export function renderRun(run: SavedRun): string {
  const m = run.machine;
  return [
    `# bench run: ${run.suite}, ${run.date.toISOString().slice(0, 10)}`,
    '',
    `- date: ${run.date.toISOString()}`,
    `- command: \`${run.command}\``,
    `- machine: ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB memory, ${m.platform}`,
    `- node: ${m.node}`,
    `- load average (1 min) at start: ${m.loadAverage}`,
    '',
    run.output.trim(),
    '',
  ].join('\n');
}

/** `<dir>/<YYYY-MM-DD>-<suite>-<n>.md` with the first n from 1 that is not taken yet. */
export function nextRunFile(dir: string, date: Date, suite: string): string {
  const day = date.toISOString().slice(0, 10);
  for (let n = 1; ; n++) {
    const file = `${dir}/${day}-${suite}-${n}.md`;
    if (!existsSync(file)) return file;
  }
}

/** Writes the run under bench/results/ (or `dir`) and returns the file's path. */
export function saveRun(
  run: SavedRun,
  dir = fileURLToPath(new URL('../results', import.meta.url)),
): string {
  mkdirSync(dir, { recursive: true });
  const file = nextRunFile(dir, run.date, run.suite);
  writeFileSync(file, renderRun(run), { flag: 'wx' }); // never overwrites a stored run
  return file;
}
