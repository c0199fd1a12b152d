// Every publishable package whose shipped files (src/, package.json) changed on this branch is
// named by a changeset added or changed on the branch, and every pending changeset names real,
// publishable packages with a pre-1.0 bump (patch or minor; `major` would jump to 1.0.0).
//   node scripts/check-changesets.mjs [BASE]   (BASE: DLOCK_BASE_REF, else main)
// The branch is compared from its merge base with BASE. On BASE itself (a fresh clone of main,
// where CI runs) or without BASE, there is nothing to compare: only the changesets are checked.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
const tryGit = (...args) => {
  try {
    return git(...args);
  } catch {
    return null;
  }
};

const packages = new Map(); // dir -> { name, private }
for (const dir of readdirSync(join(root, 'packages'))) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  packages.set(dir, { name: manifest.name, private: manifest.private === true });
}
const publishable = new Set([...packages.values()].filter((p) => !p.private).map((p) => p.name));

function frontmatter(file) {
  const text = readFileSync(join(root, file), 'utf8');
  const match = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
  if (!match) return null;
  const releases = [];
  for (const line of match[1].split(/\r?\n/)) {
    const entry = /^\s*["']?([^"':]+)["']?\s*:\s*(\w+)\s*$/.exec(line);
    if (entry) releases.push({ name: entry[1], bump: entry[2] });
  }
  return releases;
}

const problems = [];
const changesetDir = join(root, '.changeset');
const pending = readdirSync(changesetDir)
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .map((f) => `.changeset/${f}`);
for (const file of pending) {
  const releases = frontmatter(file);
  if (releases === null || releases.length === 0) {
    problems.push(`${file}: no frontmatter naming a package and its bump`);
    continue;
  }
  for (const { name, bump } of releases) {
    if (!publishable.has(name)) problems.push(`${file}: "${name}" is not a publishable package`);
    if (bump !== 'patch' && bump !== 'minor') {
      problems.push(
        `${file}: ${name}: ${bump} (packages are pre-1.0: patch for fixes, minor for features)`,
      );
    }
  }
}

const baseRef = process.argv[2] ?? process.env.DLOCK_BASE_REF ?? 'main';
const base = tryGit('merge-base', 'HEAD', baseRef);
const head = git('rev-parse', 'HEAD');
if (base === null || base === head) {
  console.log(
    `changesets: ${pending.length} pending, valid; nothing to compare (${base === null ? `no ${baseRef}` : `HEAD is ${baseRef}`})`,
  );
} else {
  const changed = git('diff', '--name-only', `${base}...HEAD`).split('\n').filter(Boolean);
  const described = new Set();
  for (const file of changed) {
    if (/^\.changeset\/.+\.md$/.test(file) && pending.includes(file)) {
      for (const { name } of frontmatter(file) ?? []) described.add(name);
    }
  }
  const touched = new Set();
  for (const file of changed) {
    const match = /^packages\/([^/]+)\/(src\/.+|package\.json)$/.exec(file);
    if (!match || /\.test\.ts$/.test(file)) continue;
    const pkg = packages.get(match[1]);
    if (pkg && !pkg.private) touched.add(pkg.name);
  }
  for (const name of touched) {
    if (!described.has(name)) {
      problems.push(
        `${name} changed since ${baseRef} (${base.slice(0, 8)}) but no changeset on this branch names it: add .changeset/<short-name>.md`,
      );
    }
  }
  console.log(
    `changesets: ${touched.size} changed package(s) since ${baseRef}, ${described.size} described`,
  );
}
for (const problem of problems) console.log(`  ${problem}`);
process.exit(problems.length === 0 ? 0 : 1);
