#!/usr/bin/env node
// The README and docs examples, checked as a user would paste them: every ```ts / ```js block of
// every README.md and docs/*.md is type-checked (tsc, strict, nodenext, against the built
// workspace packages), and the blocks marked runnable are run with Node (through tsx) against the
// local services (Redis, MariaDB, etcd on 127.0.0.1), each of which must exit 0 within its time.
//
// Fence info strings (GitHub shows the first word as the language and ignores the rest):
//   ```ts            type-checked
//   ```ts runnable   type-checked, then run; it must exit 0 by itself (close every client)
//   ```ts fragment   neither: a piece of a larger program (it uses names it does not define);
//                    listed in the output, so the exceptions stay few and visible
//
// Usage: pnpm check:examples [--timeout MS] [FILE.md ...]   (MS per runnable block, default
// 60000; `pnpm check:examples` builds the packages first, this script alone does not)
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the root node_modules, so typescript, tsx, vitest and @types/node resolve from here.
const work = join(root, 'node_modules', '.cache', 'check-examples');
const timeoutFlag = process.argv.indexOf('--timeout');
const timeoutMs = timeoutFlag === -1 ? 60_000 : Number(process.argv[timeoutFlag + 1]);
const fileArgs =
  timeoutFlag === -1
    ? process.argv.slice(2)
    : process.argv.slice(2).filter((_, i) => i !== timeoutFlag - 2 && i !== timeoutFlag - 1);
const LANGUAGES = new Map([
  ['ts', 'ts'],
  ['typescript', 'ts'],
  ['js', 'js'],
  ['javascript', 'js'],
]);
const MODES = new Set(['runnable', 'fragment']);

/** Every README.md (root, packages, bench) and docs/*.md, or the files named on the command line. */
function markdownFiles() {
  if (fileArgs.length > 0) return fileArgs.map((f) => relative(root, join(process.cwd(), f)));
  const files = ['README.md'];
  for (const dir of ['packages', 'bench', 'docs']) {
    const path = join(root, dir);
    if (!existsSync(path)) continue;
    if (dir === 'docs') {
      for (const name of readdirSync(path).sort())
        if (name.endsWith('.md')) files.push(`docs/${name}`);
      continue;
    }
    if (existsSync(join(path, 'README.md'))) files.push(`${dir}/README.md`);
    if (dir === 'packages') {
      for (const name of readdirSync(path).sort()) {
        if (existsSync(join(path, name, 'README.md'))) files.push(`packages/${name}/README.md`);
      }
    }
  }
  return files;
}

/** The code blocks of one markdown file, with the line of their opening fence. */
function blocksOf(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks = [];
  let open;
  lines.forEach((line, i) => {
    const fence = /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(line);
    if (!open) {
      if (!fence) return;
      const [lang = '', ...words] = fence[3].trim().split(/\s+/);
      open = {
        fence: fence[2],
        indent: fence[1].length,
        lang: LANGUAGES.get(lang.toLowerCase()),
        words,
        line: i + 1,
        body: [],
      };
      return;
    }
    if (fence?.[2].startsWith(open.fence) && fence[3].trim() === '') {
      if (open.lang) {
        const unknown = open.words.filter((w) => !MODES.has(w));
        blocks.push({
          file,
          line: open.line,
          lang: open.lang,
          mode: open.words.find((w) => MODES.has(w)) ?? 'check',
          unknown,
          code: open.body
            .map((l) => l.slice(Math.min(open.indent, l.length - l.trimStart().length)))
            .join('\n'),
        });
      }
      open = undefined;
      return;
    }
    open.body.push(line);
  });
  return blocks;
}

/**
 * node_modules for the examples: every workspace package under its name (its built dist), and
 * the drivers and tools the examples import, taken from where the packages have them.
 */
function linkModules() {
  const modules = join(work, 'node_modules');
  mkdirSync(join(modules, '@dlock'), { recursive: true });
  const packages = readdirSync(join(root, 'packages'));
  for (const name of packages) {
    const dir = join(root, 'packages', name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (pkg.name?.startsWith('@dlock/')) symlinkSync(dir, join(modules, pkg.name), 'dir');
  }
  const drivers = [
    'ioredis',
    'mysql2',
    'etcd3',
    'better-sqlite3',
    '@opentelemetry/api',
    '@opentelemetry/sdk-metrics',
    '@opentelemetry/sdk-trace-base',
  ];
  for (const driver of drivers) {
    const from = packages
      .map((name) => join(root, 'packages', name, 'node_modules', driver))
      .find((path) => existsSync(path));
    if (!from) continue;
    mkdirSync(dirname(join(modules, driver)), { recursive: true });
    symlinkSync(realpathSync(from), join(modules, driver), 'dir');
  }
}

function fileName(block) {
  const base = `${block.file.replaceAll('/', '__').replace(/\.md$/, '')}__L${block.line}`;
  if (block.lang === 'ts') return `${base}.ts`;
  return /\brequire\(/.test(block.code) ? `${base}.cjs` : `${base}.mjs`;
}

function typeCheck(blocks) {
  const config = {
    compilerOptions: {
      target: 'es2022',
      lib: ['es2023', 'esnext.disposable'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
      types: ['node'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      allowJs: true,
      checkJs: true,
      isolatedModules: true,
      // Every block is a module of its own (top-level await, names that repeat across blocks).
      moduleDetection: 'force',
    },
    files: blocks.map(fileName),
  };
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], {
    cwd: work,
    encoding: 'utf8',
  });
  const errors = new Map();
  const byFile = new Map(blocks.map((b) => [fileName(b), b]));
  for (const line of `${result.stdout}${result.stderr}`.split('\n')) {
    const match = /^(.+?)\((\d+),(\d+)\): (error .*)$/.exec(line);
    if (!match) {
      // A continuation line of the previous message (tsc indents them).
      if (line.startsWith(' ') && errors.size > 0)
        [...errors.values()].at(-1).push(`    ${line.trim()}`);
      else if (line.trim() !== '' && !byFile.has(line)) console.error(line);
      continue;
    }
    const block = byFile.get(match[1]);
    if (!block) {
      console.error(line);
      continue;
    }
    const list = errors.get(block) ?? [];
    list.push(`${block.file}:${block.line + Number(match[2])}:${match[3]} ${match[4]}`);
    errors.set(block, list);
  }
  if (result.status !== 0 && errors.size === 0) {
    console.error(`tsc failed without errors in the examples:\n${result.stdout}${result.stderr}`);
    process.exit(2);
  }
  return errors;
}

function run(block) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', fileName(block)], {
      cwd: work,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-4_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (code === 0) resolve({ ok: true, seconds });
      else if (signal === 'SIGKILL') {
        resolve({
          ok: false,
          seconds,
          why: `did not exit within ${timeoutMs / 1000}s (a client or pool left open?)`,
          output,
        });
      } else resolve({ ok: false, seconds, why: `exited with ${code ?? signal}`, output });
    });
  });
}

async function main() {
  const blocks = markdownFiles().flatMap(blocksOf);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  linkModules();
  const checked = blocks.filter((b) => b.mode !== 'fragment');
  for (const block of checked) writeFileSync(join(work, fileName(block)), `${block.code}\n`);

  let failures = 0;
  for (const block of blocks.filter((b) => b.unknown.length > 0)) {
    failures++;
    console.log(
      `FAIL ${block.file}:${block.line} unknown fence word(s) ${block.unknown.join(' ')} (known: runnable, fragment)`,
    );
  }
  const errors = checked.length > 0 ? typeCheck(checked) : new Map();
  for (const block of blocks) {
    const where = `${block.file}:${block.line}`;
    if (block.unknown.length > 0) continue; // reported above
    if (block.mode === 'fragment') {
      console.log(`skip ${where} (fragment: not checked)`);
      continue;
    }
    const found = errors.get(block);
    if (found) {
      failures++;
      console.log(`FAIL ${where} does not type-check:\n${found.map((e) => `  ${e}`).join('\n')}`);
      continue;
    }
    if (block.mode !== 'runnable') {
      console.log(`ok   ${where} (type-checks)`);
      continue;
    }
    const result = await run(block);
    if (result.ok) console.log(`ok   ${where} (type-checks, ran in ${result.seconds}s)`);
    else {
      failures++;
      const output = result.output
        .trim()
        .split('\n')
        .map((l) => `  | ${l}`)
        .join('\n');
      console.log(
        `FAIL ${where} type-checks but ${result.why} after ${result.seconds}s:\n${output}`,
      );
    }
  }
  const runnable = blocks.filter((b) => b.mode === 'runnable').length;
  const fragments = blocks.length - checked.length;
  console.log(
    `\n${blocks.length} examples: ${checked.length} type-checked, ${runnable} of them run, ${fragments} fragments skipped; ${failures === 0 ? 'all pass' : `${failures} FAILED`}`,
  );
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
