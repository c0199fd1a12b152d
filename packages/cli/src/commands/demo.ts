import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../cli-error.js';
import { parseMessage } from '../demo/messages.js';
import { initResource, readResource, readTokens } from '../demo/resource.js';
import { DemoState } from '../demo/state.js';
import { type DemoView, LiveView, PlainView, SilentView } from '../demo/view.js';
import { EXIT } from '../exit-codes.js';
import { redact } from '../explain-error.js';
import { type Io, out, toJson } from '../io.js';
import { parseOptions } from '../parse-options.js';
import { withClient } from './with-client.js';

export const demoHelp = `Usage: dlock demo [--workers N] [--sections N] [--url URL] [--json]

Start N worker processes that contend for one lock. Each runs read-modify-write critical
sections on a shared file (read a counter, pause, write counter + 1 with its fencing token).
Watch the lock move between them, then read the verdict: every section done, no lost update,
fencing tokens in order. Without --url or $DLOCK_URL it runs on an embedded SQLite file in a
temporary folder; with DLOCK_URL=redis://... (or mysql://, etcd://) the same demo runs there.

Options:
  --workers N    worker processes (default: 4, at most 32)
  --sections N   critical sections per worker (default: 25)
  --url URL      lock backend (default: $DLOCK_URL, else an embedded SQLite file)
  --json         print only the verdict, as JSON
  -h, --help     show this help

Exit codes: 0 the verdict holds, 1 it does not (or a worker failed), 64 bad usage, 69 backend failed.`;

/** Where this module's bin lives: dist/bin.js when built, src/bin.ts under tsx. */
function binPath(): string {
  const source = import.meta.url.endsWith('.ts');
  return fileURLToPath(new URL(source ? '../bin.ts' : './bin.js', import.meta.url));
}

export async function demoCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values } = parseOptions('demo', {
    args: [...argv],
    options: {
      workers: { type: 'string', default: '4' },
      sections: { type: 'string', default: '25' },
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, demoHelp);
    return EXIT.OK;
  }
  const workers = count('--workers', values.workers, 32);
  const sections = count('--sections', values.sections, 100_000);
  const dir = await mkdtemp(join(tmpdir(), 'dlock-demo-'));
  try {
    const url = values.url ?? (io.env.DLOCK_URL || `sqlite:${join(dir, 'locks.db')}`);
    const key = `dlock-demo:${randomUUID().slice(0, 8)}`;
    // Reach the backend once up front, so a bad URL is one plain message, not N worker crashes.
    const reachable = await withClient(io, url, values.json, async (client) => {
      await client.inspect(key);
      return EXIT.OK;
    });
    if (reachable !== EXIT.OK) return reachable;
    initResource(dir);
    if (!values.json) {
      out(
        io,
        `dlock demo: ${workers} workers x ${sections} sections on ${redact(url)}, key ${key}`,
      );
    }
    const state = new DemoState(workers, sections);
    const view: DemoView = values.json
      ? new SilentView()
      : io.stdout.isTTY
        ? new LiveView(io)
        : new PlainView(io);
    const children = Array.from({ length: workers }, (_, w) =>
      startWorker(io, { url, key, dir, sections, w }, state, view),
    );
    const ticker = io.stdout.isTTY ? setInterval(() => view.update(state), 100) : undefined;
    const exits = await Promise.all(children.map((c) => c.exit));
    if (ticker) clearInterval(ticker);
    view.finish(state);
    return printVerdict(io, values.json, url, state, dir, exits);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface WorkerExit {
  w: number;
  code: number | null;
  stderr: string;
}

function startWorker(
  io: Io,
  p: { url: string; key: string; dir: string; sections: number; w: number },
  state: DemoState,
  view: DemoView,
): { child: ChildProcess; exit: Promise<WorkerExit> } {
  const args = ['demo-worker', '--key', p.key, '--dir', p.dir];
  args.push('--sections', String(p.sections), '--id', String(p.w));
  const child = spawn(process.execPath, [...process.execArgv, binPath(), ...args], {
    // The URL may carry credentials: in the environment, not in argv where `ps` shows it.
    env: { ...io.env, DLOCK_URL: p.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    const message = parseMessage(line);
    if (!message) return;
    state.apply(message);
    // The live view redraws on a timer; plain lines are printed as progress crosses each 10%.
    if (!io.stdout.isTTY) view.update(state);
  });
  const exit = new Promise<WorkerExit>((resolve) => {
    child.once('error', (error) => resolve({ w: p.w, code: null, stderr: error.message }));
    // 'close' (not 'exit') so every line of its stdout has been read.
    child.once('close', (code) => resolve({ w: p.w, code, stderr }));
  });
  return { child, exit };
}

function printVerdict(
  io: Io,
  json: boolean,
  url: string,
  state: DemoState,
  dir: string,
  exits: readonly WorkerExit[],
): number {
  const failed = exits.filter((e) => e.code !== 0);
  const value = readResource(dir).value;
  const tokens = readTokens(dir);
  const inOrder = tokens.every((t, i) => i === 0 || t > tokens[i - 1]!);
  const lostUpdates = state.accepted - value;
  const ok =
    failed.length === 0 &&
    state.done === state.total &&
    lostUpdates === 0 &&
    inOrder &&
    state.rejected === 0;
  if (json) {
    out(
      io,
      toJson({
        ok,
        url: redact(url),
        workers: state.workers.length,
        sectionsPerWorker: state.sectionsPerWorker,
        sectionsDone: state.done,
        sectionsExpected: state.total,
        counter: value,
        lostUpdates,
        rejectedStaleWrites: state.rejected,
        fencingTokensInOrder: inOrder,
        firstToken: tokens[0],
        lastToken: tokens.at(-1),
        waits: state.waits,
        failedWorkers: failed.map((f) => ({ worker: f.w + 1, code: f.code, stderr: f.stderr })),
      }),
    );
    return ok ? EXIT.OK : EXIT.NEGATIVE;
  }
  for (const f of failed) {
    out(io, `worker ${f.w + 1} failed (exit ${f.code}):\n${f.stderr.trim()}`);
  }
  const range = tokens.length > 0 ? ` (${tokens[0]} … ${tokens.at(-1)})` : '';
  out(io, '');
  out(io, `sections done:           ${state.done}/${state.total}`);
  out(io, `counter in the file:     ${value}`);
  out(io, `lost updates:            ${lostUpdates}`);
  out(io, `stale writes refused:    ${state.rejected}`);
  out(io, `fencing tokens in order: ${inOrder ? 'yes' : 'NO'}${range}`);
  out(io, `waits for the lock:      ${state.waits}`);
  out(
    io,
    ok ? 'verdict: OK, the lock kept every read-modify-write whole' : 'verdict: FAILED, see above',
  );
  return ok ? EXIT.OK : EXIT.NEGATIVE;
}

function count(flag: string, text: string, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > max) {
    throw new UsageError(`${flag} takes a whole number from 1 to ${max}; got "${text}"`);
  }
  return value;
}
