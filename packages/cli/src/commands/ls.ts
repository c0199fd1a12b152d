import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type ListedLock, type LockClient, maskCredentials } from '@dlock/lock-core';
import { UsageError } from '../cli-error.js';
import { printable } from '../describe-holder.js';
import { formatDuration, parseDuration } from '../durations.js';
import { EXIT } from '../exit-codes.js';
import { explainError } from '../explain-error.js';
import { type Io, out, toJson } from '../io.js';
import {
  CONNECTION_OPTIONS,
  connectionHelp,
  connectionUrl,
  credentialsHelp,
} from '../open-client.js';
import { withClient } from './with-client.js';

export const lsHelp = `Usage: dlock ls [PREFIX] [--watch [--interval 2s]] [--json] [--limit N] [--url URL]

List the locks held right now whose keys start with PREFIX (default: all), sorted by key: the
holder's public id, the fencing token, when the lease ends and, where the backend knows (etcd),
how many wait. PREFIX is plain text: * ? [ % _ match only themselves.

Options:
  -w, --watch            redraw the table in place every --interval until Ctrl-C
  --interval DURATION    time between redraws with --watch (default: 2s; 500ms, 10s, 1m …)
  --limit N              show at most N locks (default: 1000)
${connectionHelp}
  --json                 print one JSON document: {"prefix","locks":[{"key","holder","count",
                         "fencingToken","expiresAt","expiresInMs","waiters"}],"truncated"};
                         with --watch, one such line per redraw
  -h, --help             show this help

${credentialsHelp}

Every backend can list: Redis (SCAN, every Cluster master), Redlock (what a majority holds),
MySQL (all three modes), etcd, SQLite. Locks only: semaphores and read-write locks (dlock run
--limit/--read/--write) are not listed; "dlock status KEY --limit N" or "--rw" shows one.

Exit codes: 0 some locks listed, 1 none (--watch: 0 when stopped with Ctrl-C); failures:
64 bad usage, 66 a credentials or certificate file cannot be read, 69 the backend failed.`;

const DEFAULT_LIMIT = 1_000;
const MAX_LIMIT = 100_000;

/** ANSI: enter/leave the alternate screen, hide/show the cursor, home, clear to end. */
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_SCREEN_END = '\x1b[J';

interface Snapshot {
  readonly locks: ListedLock[];
  /** More locks matched than the limit let through. */
  readonly truncated: boolean;
  /** Epoch ms when the listing was taken. */
  readonly at: number;
}

export async function lsCommand(
  argv: readonly string[],
  io: Io,
  /** Ends `--watch` (tests); Ctrl-C (SIGINT) and SIGTERM do otherwise. */
  stop?: AbortSignal,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      watch: { type: 'boolean', short: 'w', default: false },
      interval: { type: 'string' },
      limit: { type: 'string' },
      ...CONNECTION_OPTIONS,
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, lsHelp);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw new UsageError('usage: dlock ls [PREFIX] [--watch] [--json]');
  const prefix = positionals[0] ?? '';
  if (values.interval !== undefined && !values.watch) {
    throw new UsageError('--interval goes with --watch');
  }
  const intervalMs = parseDuration('--interval', values.interval ?? '2s');
  if (intervalMs < 100) throw new UsageError('--interval must be at least 100ms');
  const limit = parseLimit(values.limit);
  const url = connectionUrl(values, io.env);
  return withClient(io, url, values.json, async (client) => {
    if (!values.watch) {
      const snapshot = await take(client, prefix, limit);
      out(io, values.json ? toJson(jsonOf(prefix, snapshot)) : table(prefix, snapshot).join('\n'));
      return snapshot.locks.length > 0 ? EXIT.OK : EXIT.NEGATIVE;
    }
    await watch(io, client, {
      prefix,
      limit,
      intervalMs,
      json: values.json,
      title: maskCredentials(url),
      stop,
    });
    return EXIT.OK;
  });
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_LIMIT) {
    throw new UsageError(`--limit takes a whole number from 1 to ${MAX_LIMIT}; got "${text}"`);
  }
  return n;
}

async function take(client: LockClient, prefix: string, limit: number): Promise<Snapshot> {
  const locks: ListedLock[] = [];
  // One more than shown tells whether the limit cut the listing short.
  for await (const lock of client.list(prefix, { limit: limit + 1, pageSize: 500 })) {
    locks.push(lock);
  }
  const truncated = locks.length > limit;
  locks.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { locks: truncated ? locks.slice(0, limit) : locks, truncated, at: Date.now() };
}

function jsonOf(prefix: string, snapshot: Snapshot): Record<string, unknown> {
  return {
    prefix,
    at: new Date(snapshot.at).toISOString(),
    locks: snapshot.locks.map((lock) => ({
      key: lock.key,
      holder: lock.holder,
      count: lock.count,
      fencingToken: lock.fencingToken,
      expiresAt: Number.isFinite(lock.expiresAt) ? new Date(lock.expiresAt).toISOString() : null,
      expiresInMs: Number.isFinite(lock.expiresAt)
        ? Math.max(0, lock.expiresAt - snapshot.at)
        : null,
      waiters: lock.waiters ?? null,
    })),
    truncated: snapshot.truncated,
  };
}

const HEADERS = ['KEY', 'HOLDER', 'FENCING TOKEN', 'EXPIRES IN', 'WAITERS'] as const;
/** Widest a key or holder column gets; longer ones end in `…`. */
const MAX_COLUMN = 48;

function clip(text: string): string {
  return text.length > MAX_COLUMN ? `${text.slice(0, MAX_COLUMN - 1)}…` : text;
}

/** The table's lines (names from the backend made safe for a terminal). */
export function table(prefix: string, snapshot: Snapshot): string[] {
  if (snapshot.locks.length === 0) {
    return [prefix === '' ? 'no locks held' : `no locks held under "${printable(prefix)}"`];
  }
  const rows = snapshot.locks.map((lock) => [
    clip(printable(lock.key)),
    clip(printable(lock.holder) + (lock.count > 1 ? ` (x${lock.count})` : '')),
    lock.fencingToken === undefined ? '-' : String(lock.fencingToken),
    formatDuration(lock.expiresAt - snapshot.at),
    lock.waiters === undefined ? '-' : String(lock.waiters),
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const lines = [line(HEADERS), ...rows.map(line)];
  if (snapshot.truncated) {
    lines.push(`… more than ${snapshot.locks.length} locks; narrow PREFIX or raise --limit`);
  }
  return lines;
}

interface WatchOptions {
  readonly prefix: string;
  readonly limit: number;
  readonly intervalMs: number;
  readonly json: boolean;
  readonly title: string;
  readonly stop: AbortSignal | undefined;
}

/**
 * Redraws until stopped. On a terminal the table is drawn on the alternate screen (as `watch`
 * and `top` do, so the shell's screen comes back on exit), each frame from the cursor's home
 * position with every line and the rest of the screen cleared after it: nothing is blanked
 * first, so nothing flickers. Into a pipe or file it prints plain frames, or JSON lines. A failed
 * listing is shown in place of the table and retried at the next redraw.
 */
async function watch(io: Io, client: LockClient, o: WatchOptions): Promise<void> {
  const stopper = new AbortController();
  const onSignal = () => stopper.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const signal = o.stop ? AbortSignal.any([o.stop, stopper.signal]) : stopper.signal;
  const tty = io.stdout.isTTY === true && !o.json;
  if (tty) io.stdout.write(ENTER);
  try {
    while (!signal.aborted) {
      let lines: string[];
      try {
        const snapshot = await take(client, o.prefix, o.limit);
        if (o.json) {
          out(io, toJson(jsonOf(o.prefix, snapshot)));
          lines = [];
        } else {
          lines = table(o.prefix, snapshot);
        }
      } catch (error) {
        if (signal.aborted) break;
        const message = explainError(error, o.title).message;
        if (o.json) out(io, toJson({ ok: false, message }));
        lines = [`listing failed: ${message}`];
      }
      if (!o.json) {
        const header = `dlock ls ${o.prefix === '' ? '(all)' : printable(o.prefix)} on ${o.title}, every ${formatDuration(o.intervalMs)} (Ctrl-C to stop)    ${new Date().toTimeString().slice(0, 8)}`;
        const frame = [header, '', ...lines];
        if (tty) {
          io.stdout.write(
            `${HOME}${frame.map((l) => `${l}${CLEAR_LINE_END}`).join('\n')}\n${CLEAR_SCREEN_END}`,
          );
        } else {
          io.stdout.write(`${frame.join('\n')}\n\n`);
        }
      }
      // Rejects only when Ctrl-C aborts the pause, which ends the loop.
      await sleep(o.intervalMs, undefined, { signal }).catch(() => {});
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty) io.stdout.write(LEAVE);
  }
}
