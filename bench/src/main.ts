/**
 * Runs the benchmark suites named on the command line (all by default), prints their tables and
 * writes the results as JSON under bench/results/.
 *   pnpm bench                 # everything
 *   pnpm bench -- lock-core    # one suite
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { etcdBench } from './etcd.js';
import type { Result } from './harness.js';
import { idgenBench } from './idgen.js';
import { lockCoreBench } from './lock-core.js';
import { mysqlBench } from './mysql.js';
import { redisBench } from './redis.js';
import { redlockBench } from './redlock.js';
import { sqliteBench } from './sqlite.js';

const suites: Record<string, () => Promise<Result[]>> = {
  'lock-core': lockCoreBench,
  idgen: idgenBench,
  sqlite: sqliteBench,
  redis: redisBench,
  mysql: mysqlBench,
  etcd: etcdBench,
  redlock: redlockBench,
};

const wanted = process.argv.slice(2).filter((a) => a !== '--');
const names = wanted.length > 0 ? wanted : Object.keys(suites);
const unknown = names.filter((n) => !suites[n]);
if (unknown.length > 0) {
  console.error(
    `Unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`,
  );
  process.exit(2);
}
if (!globalThis.gc) console.warn('Run with node --expose-gc for stable memory numbers.');

const all: Record<string, Result[]> = {};
for (const name of names) {
  console.log(`\n# ${name}`);
  all[name] = await suites[name]!();
}
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir);
writeFileSync(
  file,
  JSON.stringify({ node: process.version, date: new Date().toISOString(), results: all }, null, 2),
);
console.log(`\nSaved ${file.pathname}`);
