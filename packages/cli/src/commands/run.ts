import { type Lock, type LockClient, type LockLostError, LockTimeoutError } from '@dlock/lock-core';
import { reportError } from '@dlock/lock-core/spi';
import { UsageError } from '../cli-error.js';
import { formatDuration } from '../durations.js';
import { EXIT } from '../exit-codes.js';
import { redact } from '../explain-error.js';
import type { Io } from '../io.js';
import { connectionHelp, credentialsHelp } from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import {
  fail,
  LEASED_OPTIONS,
  type LeasedArgs,
  LeasedCommand,
  leasedArgs,
  type Report,
  splitCommand,
  waitLimit,
  withLeaseClient,
} from './leased-command.js';
import { parseMode, type RunMode } from './run-mode.js';
import { type RunTarget, runTarget } from './run-target.js';

export const runHelp = `Usage: dlock run KEY [options] -- COMMAND [ARGS...]
       dlock run KEY --limit N [--permits K] [options] -- COMMAND [ARGS...]
       dlock run KEY --read|--write [options] -- COMMAND [ARGS...]

Take the lock KEY, run COMMAND while holding it, and release it when COMMAND exits.
With --limit N, take a permit of the semaphore KEY instead: at most N such commands run at
once, across every process and machine using the backend. With --read or --write, take one
side of the read-write lock KEY: any number of --read commands run at once, a --write command
runs alone (a waiting --write stops new --read commands from starting). The lock, semaphore
and read-write lock named KEY are three separate things: they never exclude one another.
The lease is renewed in the background (about every TTL/3) for as long as COMMAND runs.
COMMAND gets DLOCK_KEY and DLOCK_FENCING_TOKEN in its environment (and DLOCK_PERMITS with
--limit): pass the token to the resource you write so it can refuse a stale holder. Signals
(INT, TERM, HUP, QUIT, USR2) sent to dlock are forwarded to COMMAND's process group. dlock
exits with COMMAND's exit code.

COMMAND never outlives the lock: it runs in a process group of its own under a small guardian
process, which ends that group (SIGTERM, then SIGKILL before the lease can run out) if dlock
dies (even by SIGKILL or the OOM killer) or stops renewing (stopped, frozen). COMMAND has no
controlling terminal then (stdin/stdout/stderr are still yours; /dev/tty is not). Not covered:
the guardian itself killed, and processes that leave COMMAND's process group. With
--on-lost ignore, and on Windows, COMMAND runs directly and keeps running if dlock dies.

Options:
${connectionHelp}
  --pass-url             give COMMAND DLOCK_URL, DLOCK_PASSWORD and DLOCK_PASSWORD_FILE too
                         (by default it does not see the backend's URL and credentials)
  --ttl DURATION         lease length; a crashed dlock frees the lock after this (default: 30s)
  --wait DURATION        how long to wait for a busy lock; 0 = try once (default: forever)
  --limit N              take permits of the semaphore KEY of N permits (every process using
                         KEY must pass the same N)
  --permits K            with --limit: take K of the N permits at once (default: 1)
  --change-limit         with --limit: store N as KEY's limit even if its holders use another
                         (resizes the semaphore on purpose; holders beyond a lower limit keep
                         their permits)
  --read                 take the read lock of KEY (shared with other readers)
  --write                take the write lock of KEY (exclusive)
  --on-lost ACTION       if the lock is lost while COMMAND runs: term (SIGTERM, then SIGKILL
                         after 10s, or sooner so it is gone before the lease could run out),
                         kill (SIGKILL) or ignore (keep running; no guardian) (default: term)
  --json                 report dlock's own events as JSON lines on stderr (stdout stays COMMAND's)
  -h, --help             show this help

${credentialsHelp}

Durations: 500ms, 30s, 2m, 1h, or a bare number of seconds.

The default backend is one SQLite file per host, $DLOCK_SQLITE_PATH if set, else
/var/tmp/dlock/locks.db: every user's "dlock run KEY" on this machine excludes every other
user's (a root cron job and a service account included). dlock makes that file readable and
writable by every local user, so any local user can take, hold or force-release these locks:
it coordinates, it protects nothing secret. A file named by DLOCK_SQLITE_PATH keeps the
permissions you give it; everyone who shares it must be able to write it and its -wal and
-shm files. WARNING: on Windows the default is per user (%LOCALAPPDATA%\\dlock\\locks.db), so
two users do NOT exclude each other unless DLOCK_SQLITE_PATH names one shared file.

Exit codes: COMMAND's code (128+N if it died of signal N); 64 bad usage (also: --limit N
differs from the limit KEY's holders use, or the backend has no semaphores or read-write locks,
e.g. --limit 2 on redlock:; nothing was locked); 66 a credentials or certificate file cannot
be read; 69 backend failed; 70 internal error;
75 timed out waiting (the holder is printed); 79 lock lost (or not renewed in time) while
COMMAND ran; 126/127 COMMAND could not be run / not found.

Examples:
  dlock run nightly-report -- ./make-report.sh
  dlock run deploy --wait 0 -- ./deploy.sh          # give up at once if a deploy is running
  DLOCK_URL=redis://10.0.0.5:6379 dlock run deploy --ttl 1m -- ./deploy.sh
  dlock run encoders --limit 4 -- ./encode.sh in.mov   # at most 4 encodes at once
  dlock run encoders --limit 4 --permits 2 -- ./encode.sh big.mov
  dlock run catalog --read -- ./export.sh              # readers share the catalog
  dlock run catalog --write -- ./reindex.sh            # the writer waits for them, runs alone`;

interface RunArgs extends LeasedArgs {
  key: string;
  mode: RunMode;
  command: string[];
}

export async function runCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseRunArgs(argv, io);
  if (args === 'help') {
    io.stdout.write(`${runHelp}\n`);
    return EXIT.OK;
  }
  return withLeaseClient('run', args, io, (client, report) => runLocked(args, client, report));
}

function parseRunArgs(argv: readonly string[], io: Io): RunArgs | 'help' {
  const { own, command } = splitCommand(argv);
  const { values, positionals } = parseOptions('run', {
    args: own,
    allowPositionals: true,
    options: {
      ...LEASED_OPTIONS,
      limit: { type: 'string' },
      permits: { type: 'string' },
      'change-limit': { type: 'boolean', default: false },
      read: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  if (positionals.length === 0)
    throw new UsageError('dlock run needs a KEY: dlock run KEY -- COMMAND');
  if (positionals.length > 1 || command.length === 0) {
    throw new UsageError(
      'put the command after "--": dlock run KEY [options] -- COMMAND [ARGS...]',
    );
  }
  return {
    ...leasedArgs(values, io, ['term', 'kill', 'ignore']),
    key: positionals[0]!,
    mode: parseMode(values),
    command,
  };
}

async function runLocked(args: RunArgs, client: LockClient, report: Report): Promise<number> {
  const { key } = args;
  let target: RunTarget;
  try {
    target = runTarget(client, key, args.mode);
  } catch (error) {
    return fail(report, error, args.url, key);
  }
  const leased = new LeasedCommand(
    {
      args,
      command: args.command,
      key,
      what: target.what,
      noun: target.noun,
      verb: 'released',
      fields: target.fields,
    },
    report,
  );
  // Until the command runs, a signal ends the wait; afterwards it is forwarded to the command.
  const interrupted = leased.listen();
  const onLost = (error: LockLostError): void => leased.lost(error);
  try {
    let lock: Lock | null;
    try {
      lock = await target.tryAcquire({ autoExtend: true, onLost });
      if (!lock) {
        if (args.waitMs === 0) throw new LockTimeoutError(key, 0);
        const holders = await target.holders();
        // The holders' state after the mode's fields: `limit` is then the one stored on the server.
        report(
          'waiting',
          { ...target.fields, ...holders.json, waitMs: args.waitMs },
          `waiting for ${target.what} (${holders.human}), ${waitLimit(args.waitMs)}`,
        );
        lock = await target.acquire({
          autoExtend: true,
          onLost,
          waitTimeoutMs: args.waitMs,
          signal: interrupted.signal,
        });
      }
    } catch (error) {
      if (interrupted.signal.aborted) return interrupted.exitCode();
      if (LockTimeoutError.isInstance(error)) {
        // Only to describe the holder in the timeout report: a failure leaves it undescribed.
        const holders = await target.holders().catch((e: unknown) => {
          reportError('run: inspect the holders after a timeout', e, key);
          return target.unknownHolders();
        });
        report(
          'timeout',
          { ...target.fields, ...holders.json, waitMs: args.waitMs },
          `gave up waiting for ${target.what} after ${formatDuration(args.waitMs)}: ${holders.human}`,
        );
        return EXIT.TIMEOUT;
      }
      return fail(report, error, args.url, args.key);
    }

    report(
      'acquired',
      {
        key,
        ...target.fields,
        fencingToken: lock.fencingToken,
        url: redact(args.url),
        ttlMs: args.ttlMs,
      },
      `acquired ${target.what} (fencing token ${lock.fencingToken})`,
    );
    return await leased.run(lock, {
      ...args.env,
      DLOCK_KEY: key,
      DLOCK_FENCING_TOKEN: String(lock.fencingToken),
      ...target.env(lock),
    });
  } finally {
    interrupted.stop();
  }
}
