// Installs the packages as a user does, before a user does: `pnpm pack`s every publishable
// package, then for each adapter makes a fresh npm project outside the workspace with only
// lock-core + that adapter + its driver (the workspace tarballs from files, the drivers from the
// registry through a local cache), and runs there an ESM example, a CommonJS require() example
// and `tsc --noEmit` under nodenext, against the CI services. Then the CLI from its tarballs
// alone runs `dlock run` on the embedded default (Node 24: node:sqlite; Node 20: the message
// that says what to install). Catches a broken exports map, a missing (peer) dependency or a
// file left out of `files`.
//   node scripts/pack-install-test.mjs [--keep]   (needs the packages built)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'dlock-pack-'));
const tarballs = join(work, 'tarballs');
// One cache for every project of this run (and of the next run when DLOCK_NPM_CACHE is set):
// the drivers are fetched once, then installed with --prefer-offline.
const cache = process.env.DLOCK_NPM_CACHE ?? join(root, '.cache', 'npm');
const run = Math.random().toString(36).slice(2, 8);
const started = Date.now();
let failures = 0;

function sh(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

function step(name, fn) {
  const t = Date.now();
  try {
    fn();
    console.log(`  ok   ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failures++;
    console.log(`  FAIL ${name}\n${String(error.message).replace(/^/gm, '       ')}`);
  }
}

const node24 = execFileSync('bash', [join(root, 'scripts/node24.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();

// 1. Pack every publishable package (pnpm pack turns workspace: ranges into versions).
mkdirSync(tarballs, { recursive: true });
const tarball = {};
for (const dir of readdirSync(join(root, 'packages'))) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  if (manifest.private) continue;
  const out = sh('pnpm', ['pack', '--pack-destination', tarballs], {
    cwd: join(root, 'packages', dir),
  });
  const file = out.stdout.trim().split('\n').pop();
  tarball[manifest.name] = file.startsWith('/') ? file : join(tarballs, file);
}
console.log(`packed ${Object.keys(tarball).length} packages into ${tarballs}`);

// Two private Redis servers on spare ports for the Redlock quorum, stopped at the end.
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
const redlockNodes = [];
for (let i = 0; i < 2; i++) {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  redlockNodes.push({ port, child });
}
for (const { port } of redlockNodes) {
  for (let i = 0; ; i++) {
    if (
      sh('redis-cli', ['-p', String(port), 'ping'], { allowFailure: true }).stdout.trim() === 'PONG'
    )
      break;
    if (i === 100) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The drivers at the ranges the adapters declare, as a user's `npm install` picks them.
const ADAPTERS = [
  {
    pkg: '@dlock/lock-redis',
    deps: ['ioredis@^5'],
    factory: 'redisBackend',
    url: `redis://127.0.0.1:6379?prefix=dlock-pack-${run}:`,
  },
  {
    pkg: '@dlock/lock-mysql',
    deps: ['mysql2@^3'],
    factory: 'mysqlBackend',
    url: `mysql://root@127.0.0.1:3306/test?table=dlock_pack_${run}`,
    // The table first, as the README says, through the package's own ensureSchema.
    setup: `import mysql from 'mysql2/promise';
import { ensureSchema } from '@dlock/lock-mysql';
const pool = mysql.createPool('mysql://root@127.0.0.1:3306/test');
await ensureSchema(pool, { table: 'dlock_pack_${run}' });
await pool.end();`,
    cleanup: `import mysql from 'mysql2/promise';
const conn = await mysql.createConnection('mysql://root@127.0.0.1:3306/test');
await conn.query('DROP TABLE IF EXISTS ??', ['dlock_pack_${run}']);
await conn.end();`,
  },
  {
    pkg: '@dlock/lock-etcd',
    deps: ['etcd3@^1.1.2'],
    factory: 'etcdBackend',
    url: `etcd://127.0.0.1:2379?prefix=dlock-pack-${run}/`,
  },
  {
    pkg: '@dlock/redlock',
    extra: ['@dlock/lock-redis'],
    deps: ['ioredis@^5'],
    factory: 'redlockBackend',
    // Three independent masters: the shared Redis and two of this script's own.
    get url() {
      return `redlock:127.0.0.1:6379,${redlockNodes.map((n) => `127.0.0.1:${n.port}`).join(',')}?prefix=dlock-pack-rl-${run}:`;
    },
  },
  {
    pkg: '@dlock/lock-sqlite',
    deps: [],
    factory: 'sqliteBackend',
    url: `sqlite:${join(work, 'sqlite-example', 'locks.db')}`,
    // Node 24 has node:sqlite; on Node 20 the workspace's better-sqlite3 (built here) is linked in.
    node20Deps: [join(root, 'packages/lock-sqlite/node_modules/better-sqlite3')],
  },
];

const esmExample = (a) => `import { connect } from '@dlock/lock-core';

const locks = await connect(${JSON.stringify(a.url)}, { ttlMs: 5_000 });
const token = await locks.using('pack-test', async (_signal, lock) => lock.fencingToken);
if (typeof token !== 'bigint') throw new Error('no fencing token');
await locks.close();
console.log('esm ok', token);
`;

const cjsExample = (a) => `const { connect, LockTimeoutError } = require('@dlock/lock-core');
const adapter = require('${a.pkg}');
if (typeof adapter.${a.factory} !== 'function') throw new Error('${a.factory} missing');
if (typeof LockTimeoutError.isInstance !== 'function') throw new Error('no isInstance');
connect(${JSON.stringify(a.url)}).then(async (locks) => {
  const lock = await locks.acquire('pack-test-cjs');
  await lock.release();
  await locks.close();
  console.log('cjs ok', lock.fencingToken);
});
`;

const tsExample = (
  a,
) => `import { connect, createLockClient, type LockClient, LockTimeoutError } from '@dlock/lock-core';
import { ${a.factory} } from '${a.pkg}';

type Factory = typeof ${a.factory};
export const factory: Factory = ${a.factory};
export async function main(): Promise<bigint> {
  const locks: LockClient = await connect(${JSON.stringify(a.url)}, { ttlMs: 5_000 });
  try {
    return await locks.using('k', async (signal, lock) => {
      signal.throwIfAborted();
      return lock.fencingToken;
    });
  } catch (error) {
    if (LockTimeoutError.isInstance(error)) return -1n;
    throw error;
  } finally {
    await locks.close();
  }
}
export const make = createLockClient;
`;

const TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
  },
  include: ['example.ts'],
};

function project(name, specs) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `pack-test-${name}`, private: true, version: '1.0.0' }),
  );
  sh(
    'npm',
    ['install', '--cache', cache, '--prefer-offline', '--no-audit', '--no-fund', ...specs],
    { cwd: dir },
  );
  // Every @dlock package must come from our tarballs, never from the registry.
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (/node_modules\/@dlock\/[^/]+$/.test(path) && !String(entry.resolved).startsWith('file:')) {
      throw new Error(`${path} was resolved from ${entry.resolved}, not from a packed tarball`);
    }
  }
  return dir;
}

console.log(`node ${process.version} (examples), ${node24} (CLI on node:sqlite)`);
for (const adapter of ADAPTERS) {
  const name = adapter.pkg.replace('@dlock/', '');
  step(`${name}: install lock-core + ${name} + ${adapter.deps.join(' ') || 'no driver'}`, () => {
    const specs = [
      tarball['@dlock/lock-core'],
      tarball[adapter.pkg],
      ...(adapter.extra ?? []).map((pkg) => tarball[pkg]),
      ...adapter.deps,
      'typescript@~5.9.3',
      '@types/node@^20.19.0',
    ];
    adapter.dir = project(`${name}-example`, specs);
    writeFileSync(join(adapter.dir, 'esm.mjs'), esmExample(adapter));
    writeFileSync(join(adapter.dir, 'cjs.cjs'), cjsExample(adapter));
    writeFileSync(join(adapter.dir, 'example.ts'), tsExample(adapter));
    writeFileSync(join(adapter.dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    for (const script of ['setup', 'cleanup']) {
      if (adapter[script]) writeFileSync(join(adapter.dir, `${script}.mjs`), adapter[script]);
    }
    if (adapter.setup) sh(process.execPath, ['setup.mjs'], { cwd: adapter.dir });
  });
  if (!adapter.dir) continue;
  const onNode20 = adapter.node20Deps !== undefined;
  step(`${name}: tsc --noEmit (nodenext, strict, no skipLibCheck)`, () => {
    sh(process.execPath, [join(adapter.dir, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
      cwd: adapter.dir,
    });
  });
  for (const [label, file] of [
    ['ESM import', 'esm.mjs'],
    ['CommonJS require()', 'cjs.cjs'],
  ]) {
    step(`${name}: ${label} on Node 24`, () => {
      sh(node24, [file], { cwd: adapter.dir });
    });
    step(`${name}: ${label} on ${process.version}`, () => {
      if (onNode20 && !process.getBuiltinModule?.('node:sqlite')) {
        // Node 20: better-sqlite3 is lock-sqlite's optional peer, which the user installs. The
        // workspace's copy (its addon built for this Node) is linked in rather than built again.
        for (const dep of adapter.node20Deps) {
          const link = join(adapter.dir, 'node_modules', basename(dep));
          if (!existsSync(link)) symlinkSync(realpathSync(dep), link);
        }
      }
      sh(process.execPath, [file], { cwd: adapter.dir });
    });
  }
  if (adapter.cleanup) sh(process.execPath, ['cleanup.mjs'], { cwd: adapter.dir });
}

// 2. The CLI from its tarballs alone: every @dlock package it depends on, nothing else named.
step('cli: install @dlock/cli (and the workspace tarballs it depends on) alone', () => {
  const cli = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8'));
  const ours = Object.keys(cli.dependencies).filter((dep) => dep.startsWith('@dlock/'));
  const dir = project('cli', [tarball['@dlock/cli'], ...ours.map((dep) => tarball[dep])]);
  const installed = readdirSync(join(dir, 'node_modules'));
  if (installed.includes('better-sqlite3')) throw new Error('the CLI pulled in better-sqlite3');
  const env = { ...process.env, DLOCK_SQLITE_PATH: join(dir, 'default.db') };
  delete env.DLOCK_URL;
  const bin = join(dir, 'node_modules/@dlock/cli/dist/bin.js');
  sh(node24, [bin, 'run', 'pack-test', '--', node24, '-e', ''], { cwd: dir, env });
  // Node 20 has no node:sqlite: exit 69 (backend unusable) naming what to do.
  const old = sh(process.execPath, [bin, 'run', 'pack-test', '--', 'true'], {
    cwd: dir,
    env,
    allowFailure: true,
  });
  if (!process.getBuiltinModule?.('node:sqlite')) {
    if (old.status !== 69 || !/better-sqlite3/.test(old.stderr)) {
      throw new Error(`Node 20 without better-sqlite3: exit ${old.status}\n${old.stderr}`);
    }
  } else if (old.status !== 0) throw new Error(old.stderr);
  // Every other backend works from the CLI's tarballs alone.
  sh(node24, [bin, 'run', 'pack-test', '--url', 'redis://127.0.0.1:6379', '--', 'true'], {
    cwd: dir,
    env,
  });
});

// 3. An application that installs only lock-redis pulls in nothing else of ours but lock-core.
step('lock-redis alone installs no other adapter or driver', () => {
  const dir = join(work, 'lock-redis-example', 'node_modules');
  const ours = readdirSync(join(dir, '@dlock')).sort();
  const expected = ['lock-core', 'lock-redis'];
  if (JSON.stringify(ours) !== JSON.stringify(expected)) throw new Error(`@dlock/: ${ours}`);
  for (const other of ['mysql2', 'etcd3', 'better-sqlite3']) {
    if (readdirSync(dir).includes(other)) throw new Error(`lock-redis pulled in ${other}`);
  }
});

for (const { child } of redlockNodes) child.kill();
if (!keep) rmSync(work, { recursive: true, force: true });
console.log(
  `pack test: ${failures === 0 ? 'all passed' : `${failures} failed`} in ${((Date.now() - started) / 1000).toFixed(0)} s${keep ? ` (kept ${work})` : ''}`,
);
process.exit(failures === 0 ? 0 : 1);
