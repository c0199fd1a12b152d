import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type LockClient, LockUnsupportedError } from '@dlock/lock-core';
import { reported } from '@dlock/lock-core/spi';
import { UsageError } from '../cli-error.js';
import { parseMessage, type WorkerMessage } from '../demo/messages.js';
import { initResource, readResource, readTokens } from '../demo/resource.js';
import { DemoState } from '../demo/state.js';
import { type DemoView, LiveView, PlainView, SilentView } from '../demo/view.js';
import { EXIT } from '../exit-codes.js';
import { explainError, redact } from '../explain-error.js';
import { type Io, out, toJson } from '../io.js';
import { openClient } from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import { withClient } from './with-client.js';

/** The workers' lease: short, so the frozen worker's lease runs out soon. */
const DEMO_TTL_MS = 3_000;

/** Wake the frozen worker after this even if no one took over (every other worker had finished). */
const FREEZE_LIMIT_MS = 4 * DEMO_TTL_MS + 10_000;

export const demoHelp = `Usage: dlock demo [--workers N] [--sections N] [--no-freeze] [--url URL] [--json]

Start N worker processes that contend for one lock. Each runs read-modify-write critical
sections on a shared file (read a counter, pause, write counter + 1 with its fencing token).
Watch the lock move between them, then read the verdict: every section done, no lost update,
fencing tokens in order. Without --url or $DLOCK_URL it runs on an embedded SQLite file in a
temporary folder; with DLOCK_URL=redis://... (or mysql://, etcd://) the same demo runs there.

A third of the way in, one worker is frozen (SIGSTOP) after it checked that it holds the lock
and before it writes, until its lease ran out and another worker wrote; then it is woken
(SIGCONT) and writes anyway. The file refuses that late write by its fencing token: what a lock alone cannot
do. Locks are leased for ${DEMO_TTL_MS / 1000}s in the demo, so that round takes a few seconds.

Options:
  --workers N    worker processes (default: 4, at most 32)
  --sections N   critical sections per worker (default: 25)
  --no-freeze    do not freeze a worker (also when there is only one worker, or on Windows)
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
      'no-freeze': { type: 'boolean', default: false },
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
  // SIGSTOP needs POSIX signals, and a takeover needs a second worker.
  const freeze = !values['no-freeze'] && workers > 1 && process.platform !== 'win32';
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
    const freezer = new Freezer(state, view);
    const children = Array.from({ length: workers }, (_, w) =>
      startWorker(
        io,
        // A third of the way in: fewer writes than the other workers' sections, so one of them
        // is still left to take over (workers x sections / 3 < (workers - 1) x sections).
        {
          url,
          key,
          dir,
          sections,
          w,
          freezeAt: freeze ? Math.floor((workers * sections) / 3) : undefined,
        },
        state,
        view,
        freezer,
      ),
    );
    freezer.children = children.map((c) => c.child);
    const ticker = io.stdout.isTTY ? setInterval(() => view.update(state), 100) : undefined;
    const exits = await Promise.all(children.map((c) => c.exit));
    if (ticker) clearInterval(ticker);
    freezer.stop();
    view.finish(state);
    const cleanup = await purgeKey(url, key, io.env);
    return printVerdict(io, values.json, url, state, dir, exits, freeze, cleanup, key);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What the demo left on the backend: `purged` nothing, or why something may be left. */
type Cleanup = 'purged' | 'held' | 'unsupported' | { failed: string };

/**
 * Deletes what the demo's key left on the backend (its fencing counter, waiter flag, row), so a
 * demo on a shared server leaves nothing behind. The tokens it issued stay the lowest the key can
 * see again: later grants are floored at the server's time.
 */
async function purgeKey(url: string, key: string, env: NodeJS.ProcessEnv): Promise<Cleanup> {
  let client: LockClient | undefined;
  try {
    client = await openClient(url, {}, env);
    return (await client.purge(key)) ? 'purged' : 'held';
  } catch (error) {
    // etcd leaves nothing to purge (its keys go with their leases); Redlock cannot purge.
    if (LockUnsupportedError.isInstance(error)) return 'unsupported';
    return { failed: explainError(error, url).message };
  } finally {
    await client?.close().catch(reported('demo: close after purge'));
  }
}

function cleanupText(cleanup: Cleanup, key: string): string {
  if (cleanup === 'purged') return `nothing of ${key} is left on the backend (purged)`;
  if (cleanup === 'held') {
    return `${key} was still held (a worker died holding it?), so it was not purged; its lease ends within ${DEMO_TTL_MS / 1000}s`;
  }
  if (cleanup === 'unsupported')
    return `this backend cannot purge ${key}; what it keeps of a free key expires by itself, if anything`;
  return `could not purge ${key}: ${cleanup.failed}`;
}

interface WorkerExit {
  w: number;
  code: number | null;
  stderr: string;
}

/**
 * Freezes the worker that reports `freeze` (SIGSTOP) and wakes it (SIGCONT) once another worker
 * has written with a newer token, which needs its lease to have run out first.
 */
class Freezer {
  children: readonly ChildProcess[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped: ChildProcess | undefined;
  #done = false;

  constructor(
    private readonly state: DemoState,
    private readonly view: DemoView,
  ) {}

  /** Called after each message has been folded into the state. */
  onMessage(message: WorkerMessage): void {
    const frozen = this.state.frozen;
    if (message.t === 'freeze') {
      const child = this.children[message.w];
      // One freeze per demo (a refused write can let a second worker read the same value), and
      // only while someone is left to take over.
      const others = this.state.workers.filter(
        (w, i) => i !== message.w && w.done < this.state.sectionsPerWorker,
      );
      if (this.#done || frozen?.w !== message.w || others.length === 0) {
        if (frozen?.w === message.w) this.state.frozen = undefined;
        child?.kill('SIGCONT');
        return;
      }
      this.#done = true;
      if (!child?.kill('SIGSTOP')) {
        this.state.frozen = undefined;
        this.view.note(`could not freeze worker ${message.w + 1}; it goes on`);
        child?.kill('SIGCONT');
        return;
      }
      this.#stopped = child;
      this.view.note(
        `worker ${message.w + 1} checked it holds the lock (token ${message.token}), then froze (SIGSTOP) before writing; its ${DEMO_TTL_MS / 1000}s lease runs out`,
      );
      this.#timer = setTimeout(() => this.wake('no other worker took over'), FREEZE_LIMIT_MS);
    } else if (this.#stopped && frozen?.supersededBy !== undefined) {
      this.wake(
        `worker ${message.w + 1} took the lock over and wrote (token ${frozen.supersededBy})`,
      );
    }
  }

  private wake(why: string): void {
    const child = this.#stopped;
    if (!child) return;
    this.#stopped = undefined;
    clearTimeout(this.#timer);
    this.view.note(`${why}; worker ${(this.state.frozen?.w ?? 0) + 1} wakes (SIGCONT) and writes`);
    child.kill('SIGCONT');
  }

  /** Never leave a worker stopped (it would never exit). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#stopped?.kill('SIGCONT');
    this.#stopped = undefined;
  }
}

function startWorker(
  io: Io,
  p: {
    url: string;
    key: string;
    dir: string;
    sections: number;
    w: number;
    freezeAt: number | undefined;
  },
  state: DemoState,
  view: DemoView,
  freezer: Freezer,
): { child: ChildProcess; exit: Promise<WorkerExit> } {
  const args = ['demo-worker', '--key', p.key, '--dir', p.dir];
  args.push('--sections', String(p.sections), '--id', String(p.w));
  args.push('--ttl-ms', String(DEMO_TTL_MS));
  if (p.freezeAt !== undefined) args.push('--freeze-at', String(p.freezeAt));
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
    freezer.onMessage(message);
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
  freeze: boolean,
  cleanup: Cleanup,
  key: string,
): number {
  const failed = exits.filter((e) => e.code !== 0);
  const value = readResource(dir).value;
  const tokens = readTokens(dir);
  const inOrder = tokens.every((t, i) => i === 0 || t > tokens[i - 1]!);
  const lostUpdates = state.accepted - value;
  const frozen = state.frozen;
  // Once another worker wrote with a newer token, the frozen worker's late write must be refused.
  const staleWriteLanded = frozen?.supersededBy !== undefined && frozen.lateWriteAccepted !== false;
  const ok =
    failed.length === 0 &&
    state.done === state.total &&
    lostUpdates === 0 &&
    inOrder &&
    !staleWriteLanded;
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
        frozenWorker: frozen
          ? {
              worker: frozen.w + 1,
              token: frozen.token,
              supersededBy: frozen.supersededBy ?? null,
              lateWriteRefused: frozen.lateWriteAccepted === false,
            }
          : null,
        fencingTokensInOrder: inOrder,
        firstToken: tokens[0],
        lastToken: tokens.at(-1),
        waits: state.waits,
        cleanup: typeof cleanup === 'string' ? cleanup : 'failed',
        failedWorkers: failed.map((f) => ({ worker: f.w + 1, code: f.code, stderr: f.stderr })),
      }),
    );
    return ok ? EXIT.OK : EXIT.NEGATIVE;
  }
  for (const f of failed) {
    out(io, `worker ${f.w + 1} failed (exit ${f.code}):\n${f.stderr.trim()}`);
  }
  const range = tokens.length > 0 ? ` (${tokens[0]} … ${tokens.at(-1)})` : '';
  const late =
    frozen && frozen.lateWriteAccepted === false && frozen.supersededBy !== undefined
      ? ` (worker ${frozen.w + 1}'s late write with token ${frozen.token}, after token ${frozen.supersededBy})`
      : '';
  out(io, '');
  out(io, `sections done:           ${state.done}/${state.total}`);
  out(io, `counter in the file:     ${value}`);
  out(io, `lost updates:            ${lostUpdates}`);
  out(io, `stale writes refused:    ${state.rejected}${late}`);
  out(io, `fencing tokens in order: ${inOrder ? 'yes' : 'NO'}${range}`);
  out(io, `waits for the lock:      ${state.waits}`);
  out(io, `cleanup:                 ${cleanupText(cleanup, key)}`);
  if (late) {
    out(
      io,
      `why it matters: worker ${frozen!.w + 1} still believed it held the lock when it woke; no lock can stop a paused holder, only the token check at the file kept it from overwriting newer data`,
    );
  } else if (staleWriteLanded) {
    out(io, `worker ${frozen!.w + 1}'s late write was NOT refused by its token`);
  } else if (freeze && frozen) {
    out(
      io,
      `worker ${frozen.w + 1} was frozen, but no other worker took over before it woke, so its write was not stale`,
    );
  }
  out(
    io,
    ok
      ? 'verdict: OK, the lock and its fencing tokens kept every read-modify-write whole'
      : 'verdict: FAILED, see above',
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
