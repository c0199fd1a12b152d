// Checks the links of every tracked Markdown file: a relative link must name a tracked file or
// directory; an absolute link into this repository (https://github.com/dlock/dlock/blob|tree/main/…)
// must name one too (blob a file, tree a directory); an #anchor into a Markdown file must match
// one of its headings. A package README is read on the registry's page, where a relative link
// that leaves the package is broken, so there such a link must be absolute.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

const repoUrl = 'https://github.com/dlock/dlock/';
const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0');
const tracked = new Set(files.filter(Boolean));
const dirs = new Set(['']);
for (const f of tracked) {
  for (let d = posix.dirname(f); d !== '.'; d = posix.dirname(d)) dirs.add(d);
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function prose(text) {
  const out = [];
  let fence = null;
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === null) fence = m[1][0];
      else if (m[1][0] === fence) fence = null;
      return;
    }
    if (fence === null) out.push([i + 1, line]);
  });
  return out;
}

// GitHub's heading ids: lower case, markup dropped, punctuation dropped, spaces to dashes,
// repeats numbered -1, -2, ….
const anchorCache = new Map();
function anchors(file) {
  let set = anchorCache.get(file);
  if (set) return set;
  set = new Set();
  const seen = new Map();
  for (const [, line] of prose(readFileSync(file, 'utf8'))) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const slug = h[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    set.add(n === 0 ? slug : `${slug}-${n}`);
  }
  anchorCache.set(file, set);
  return set;
}

const problems = [];
for (const file of tracked) {
  if (!file.endsWith('.md')) continue;
  const pkg = /^packages\/[^/]+\/README\.md$/.test(file) ? posix.dirname(file) : null;
  for (const [n, line] of prose(readFileSync(file, 'utf8'))) {
    const targets = [
      ...[...line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]),
      ...[...line.matchAll(/^\s*\[[^\]]+\]:\s+(\S+)/g)].map((m) => m[1]),
    ];
    for (const target of targets) {
      const where = `${file}:${n}: ${target}`;
      const [path, hash] = target.split('#');
      let resolved;
      let kind = null;
      if (target.startsWith(repoUrl)) {
        const m = /^(blob|tree)\/main\/(.*)$/.exec(path.slice(repoUrl.length));
        if (!m) continue; // issues, pulls and other pages of the repository
        kind = m[1];
        resolved = m[2].replace(/\/$/, '');
      } else if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        continue; // another site
      } else if (path === '') {
        resolved = file;
      } else {
        resolved = posix.normalize(posix.join(posix.dirname(file), path)).replace(/\/$/, '');
        if (pkg && resolved !== pkg && !resolved.startsWith(`${pkg}/`)) {
          problems.push(`${where} leaves the package; make it ${repoUrl}…`);
          continue;
        }
      }
      const isFile = tracked.has(resolved);
      const isDir = dirs.has(resolved);
      if (!isFile && !isDir) problems.push(`${where} names no tracked file or directory`);
      else if (kind === 'blob' && !isFile) problems.push(`${where} is a directory: use tree/`);
      else if (kind === 'tree' && !isDir) problems.push(`${where} is a file: use blob/`);
      else if (hash && isFile && resolved.endsWith('.md') && !anchors(resolved).has(hash)) {
        problems.push(`${where} has no heading #${hash}`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`${problems.length} broken link(s):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('links: ok');
