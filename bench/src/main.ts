/**
 * Runs the benchmark suites named on the command line (all by default), prints their tables and
 * writes the results as JSON under bench/results/ (not committed). With `--save`, each suite's
 * output is also stored as bench/results/<YYYY-MM-DD>-<suite>-<n>.md with the machine it ran on:
 * the file a README table cites.
 *   pnpm bench                        # everything
 *   pnpm bench -- lock-core           # one suite
 *   pnpm bench -- redis --save        # one suite, stored for publishing
 *   pnpm -s bench -- redis --json     # stdout is only the results as JSON (tables go nowhere)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { format } from 'node:util';
import { electionBench } from './election.js';
import { etcdBench } from './etcd.js';
import { fairBench } from './fair.js';
import type { Result } from './harness.js';
import { idgenBench } from './idgen.js';
import { lockCoreBench } from './lock-core.js';
import { mysqlBench } from './mysql.js';
import { redisBench } from './redis.js';
import { redlockBench } from './redlock.js';
import { describeMachine, saveRun } from './saved-run.js';
import { sharedBench } from './shared.js';
import { sqliteBench } from './sqlite.js';
import { txBench } from './tx.js';

const suites: Record<string, () => Promise<Result[]>> = {
  'lock-core': lockCoreBench,
  idgen: idgenBench,
  sqlite: sqliteBench,
  redis: redisBench,
  mysql: mysqlBench,
  etcd: etcdBench,
  redlock: redlockBench,
  shared: sharedBench,
  tx: txBench,
  fair: fairBench,
  election: () => electionBench(),
};

const args = process.argv.slice(2).filter((a) => a !== '--');
const save = args.includes('--save');
const json = args.includes('--json');
const wanted = args.filter((a) => a !== '--save' && a !== '--json');
const names = wanted.length > 0 ? wanted : Object.keys(suites);
const unknown = names.filter((n) => !suites[n]);
if (unknown.length > 0) {
  console.error(
    `Unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`,
  );
  process.exit(2);
}
if (!globalThis.gc) console.warn('Run with node --expose-gc for stable memory numbers.');
// With --json, stdout carries the JSON alone: everything else the suites print goes to stderr
// when stored runs need it (so it still shows), and is dropped otherwise.
const stdoutLog = console.log;
if (json) console.log = save ? console.error : () => {};

const all: Record<string, Result[]> = {};
const saved: string[] = [];
for (const name of names) {
  console.log(`\n# ${name}`);
  const date = new Date();
  const machine = describeMachine();
  const output: string[] = [];
  const print = console.log;
  if (save) {
    // Keep a copy of everything the suite prints (tables, notes, counts) for the stored run.
    console.log = (...values: unknown[]) => {
      output.push(format(...values));
      print(...values);
    };
  }
  try {
    all[name] = await suites[name]!();
  } finally {
    console.log = print;
  }
  if (save) {
    const command = `pnpm bench -- ${name} --save`;
    saved.push(saveRun({ suite: name, date, machine, command, output: output.join('\n') }));
  }
}
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir);
const report = JSON.stringify(
  { node: process.version, date: new Date().toISOString(), results: all },
  null,
  2,
);
writeFileSync(file, report);
console.log(`\nSaved ${file.pathname}`);
for (const path of saved) console.log(`Stored run: ${path}`);
if (json) stdoutLog(report);
