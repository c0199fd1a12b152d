import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { constants, hostname } from 'node:os';
import { basename } from 'node:path';
import { type Lock, type LockClient, type LockLostError, LockTimeoutError } from '@dlock/lock-core';
import { reportError, reported } from '@dlock/lock-core/spi';
import { UsageError } from '../cli-error.js';
import { describeHolder, holderJson } from '../describe-holder.js';
import { formatDuration, parseDuration } from '../durations.js';
import { EXIT } from '../exit-codes.js';
import { explainError, redact } from '../explain-error.js';
import { type Io, say, toJson } from '../io.js';
import {
  CONNECTION_OPTIONS,
  CREDENTIAL_ENV,
  connectionHelp,
  connectionUrl,
  credentialsHelp,
  openClient,
} from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import {
  type CommandExit,
  type CommandProcess,
  type OnLostAction,
  startCommand,
} from './command-process.js';

export const runHelp = `Usage: dlock run KEY [options] -- COMMAND [ARGS...]

Take the lock KEY, run COMMAND while holding it, and release it when COMMAND exits.
The lock is renewed in the background (about every TTL/3) for as long as COMMAND runs.
COMMAND gets DLOCK_KEY and DLOCK_FENCING_TOKEN in its environment: pass the token to the
resource you write so it can refuse a stale holder. Signals (INT, TERM, HUP, QUIT, USR2) sent
to dlock are forwarded to COMMAND's process group. dlock exits with COMMAND's exit code.

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

Exit codes: COMMAND's code (128+N if it died of signal N); 64 bad usage; 66 a credentials or
certificate file cannot be read; 69 backend failed; 70 internal error;
75 timed out waiting (the holder is printed); 79 lock lost (or not renewed in time) while
COMMAND ran; 126/127 COMMAND could not be run / not found.

Examples:
  dlock run nightly-report -- ./make-report.sh
  dlock run deploy --wait 0 -- ./deploy.sh          # give up at once if a deploy is running
  DLOCK_URL=redis://10.0.0.5:6379 dlock run deploy --ttl 1m -- ./deploy.sh`;

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

interface RunArgs {
  key: string;
  command: string[];
  url: string;
  ttlMs: number;
  waitMs: number;
  onLost: OnLostAction;
  json: boolean;
  /** COMMAND's environment. */
  env: NodeJS.ProcessEnv;
  /** dlock's own environment, where a password may be. */
  credentialEnv: NodeJS.ProcessEnv;
}

/** The environment without the backend's credentials, for COMMAND. */
function withoutCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of CREDENTIAL_ENV) delete copy[name];
  return copy;
}

export async function runCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseRunArgs(argv, io);
  if (args === 'help') {
    io.stdout.write(`${runHelp}\n`);
    return EXIT.OK;
  }
  const report = reporter(io, args.json);
  let client: LockClient;
  try {
    const clientId = `${hostname()}:${process.pid}:${basename(args.command[0]!)}`.replaceAll(
      '#',
      '_',
    );
    client = await openClient(args.url, { ttlMs: args.ttlMs, clientId }, args.credentialEnv);
  } catch (error) {
    return fail(report, error, args.url);
  }
  try {
    return await runLocked(args, client, report);
  } finally {
    await client.close().catch(reported('run: close'));
  }
}

function parseRunArgs(argv: readonly string[], io: Io): RunArgs | 'help' {
  const separator = argv.indexOf('--');
  const own = separator === -1 ? argv : argv.slice(0, separator);
  const command = separator === -1 ? [] : argv.slice(separator + 1);
  const { values, positionals } = parseOptions('run', {
    args: [...own],
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      'pass-url': { type: 'boolean', default: false },
      ttl: { type: 'string', default: '30s' },
      wait: { type: 'string', default: 'forever' },
      'on-lost': { type: 'string', default: 'term' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
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
  const ttlMs = parseDuration('--ttl', values.ttl);
  if (ttlMs < 1) throw new UsageError('--ttl must be at least 1ms');
  const onLost = values['on-lost'];
  if (onLost !== 'term' && onLost !== 'kill' && onLost !== 'ignore') {
    throw new UsageError(`--on-lost takes term, kill or ignore; got "${onLost}"`);
  }
  return {
    key: positionals[0]!,
    command: [...command],
    url: connectionUrl(values, io.env),
    ttlMs,
    waitMs: parseDuration('--wait', values.wait, true),
    onLost,
    json: values.json,
    env: values['pass-url'] ? io.env : withoutCredentials(io.env),
    credentialEnv: io.env,
  };
}

type Report = (event: string, fields: Record<string, unknown>, human: string) => void;

function reporter(io: Io, json: boolean): Report {
  return (event, fields, human) => {
    if (json) io.stderr.write(`${toJson({ event, ...fields })}\n`);
    else say(io, human);
  };
}

function fail(report: Report, error: unknown, url: string): number {
  const explained = explainError(error, url);
  report('error', { error: explained.kind, message: explained.message }, explained.message);
  return explained.exitCode;
}

async function runLocked(args: RunArgs, client: LockClient, report: Report): Promise<number> {
  const { key } = args;
  // Until the command runs, a signal ends the wait; afterwards it is forwarded to the command.
  const interrupted = new AbortController();
  let child: CommandProcess | undefined;
  let lost: LockLostError | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (child) child.signal(signal);
    else interrupted.abort(signal);
  };
  for (const signal of FORWARDED) process.on(signal, onSignal);
  const onLost = (error: LockLostError): void => {
    lost = error;
    if (child) signalLost(child, args, error, report);
  };

  try {
    let lock: Lock | null;
    try {
      lock = await client.tryAcquire(key, { autoExtend: true, onLost });
      if (!lock) {
        if (args.waitMs === 0) throw new LockTimeoutError(key, 0);
        const holder = await client.inspect(key);
        report(
          'waiting',
          { ...holderJson(key, holder), waitMs: args.waitMs },
          `waiting for "${key}" (${describeHolder(holder)}), ${Number.isFinite(args.waitMs) ? `up to ${formatDuration(args.waitMs)}` : 'with no time limit'}`,
        );
        lock = await client.acquire(key, {
          autoExtend: true,
          onLost,
          waitTimeoutMs: args.waitMs,
          signal: interrupted.signal,
        });
      }
    } catch (error) {
      if (interrupted.signal.aborted) return 128 + signalNumber(interrupted.signal.reason);
      if (LockTimeoutError.isInstance(error)) {
        // Only to describe the holder in the timeout report: a failure leaves it undescribed.
        const holder = await client.inspect(key).catch((e: unknown) => {
          reportError('run: inspect the holder after a timeout', e, key);
          return null;
        });
        report(
          'timeout',
          { ...holderJson(key, holder), waitMs: args.waitMs },
          `gave up waiting for "${key}" after ${formatDuration(args.waitMs)}: ${describeHolder(holder)}`,
        );
        return EXIT.TIMEOUT;
      }
      return fail(report, error, args.url);
    }

    report(
      'acquired',
      { key, fencingToken: lock.fencingToken, url: redact(args.url), ttlMs: args.ttlMs },
      `acquired "${key}" (fencing token ${lock.fencingToken})`,
    );
    const running = startCommand({
      command: args.command,
      env: { ...args.env, DLOCK_KEY: key, DLOCK_FENCING_TOKEN: String(lock.fencingToken) },
      key,
      ttlMs: args.ttlMs,
      remainingMs: remaining(lock),
      onLost: args.onLost,
      json: args.json,
    });
    child = running;
    if (lost) signalLost(running, args, lost, report);
    // After every renewal the guardian learns how long the lease now stands. The watchdog
    // publishes before it updates the lock's estimate, hence the next turn of the loop.
    const held = lock;
    const onExtend = (message: unknown): void => {
      const { key: extended, ok } = message as { key: string; ok: boolean };
      if (extended === key && ok) setImmediate(() => held.held && running.valid(remaining(held)));
    };
    subscribe('dlock:extend', onExtend);
    let exit: CommandExit;
    try {
      exit = await running.exited;
    } finally {
      unsubscribe('dlock:extend', onExtend);
    }

    if (exit.error) {
      await lock.release().catch(() => false);
      const notFound = exit.error.code === 'ENOENT';
      const message = notFound
        ? `command not found: ${args.command[0]}`
        : `cannot run ${args.command[0]}: ${exit.error.message}`;
      report('error', { error: notFound ? 'not-found' : 'cannot-execute', message }, message);
      return notFound ? EXIT.NOT_FOUND : EXIT.CANNOT_EXECUTE;
    }
    const code = exit.code ?? 128 + signalNumber(exit.signal);
    if (exit.endedBy === 'guardian-died') {
      await lock.release().catch(() => false);
      const message = `the guardian of the command died (${exit.signal ?? `exit code ${exit.code}`}); the command's process group was killed`;
      report('error', { error: 'guardian-died', key, message }, message);
      return EXIT.LOST;
    }
    if (exit.endedBy === 'lease-running-out') {
      // No renewal reached the guardian in time (the backend failed, or dlock was stopped or
      // stalled), so it ended the command before the lease could run out.
      await lock.release().catch(() => false);
      report(
        'lost',
        { key, reason: 'not-renewed', exitCode: code, childSignal: exit.signal },
        `the lease of "${key}" was not renewed in time (backend failing, or dlock stopped or stalled), so the command was ended before it could run out; exiting with ${EXIT.LOST}`,
      );
      return EXIT.LOST;
    }
    if (lost) {
      report(
        'lost',
        { key, reason: lost.reason, exitCode: code, childSignal: exit.signal },
        `the command ran without the lock "${key}" after it was lost (${lost.reason}); exiting with ${EXIT.LOST}`,
      );
      return EXIT.LOST;
    }
    try {
      if (!(await lock.release())) {
        // The lease was gone before the command ended (force-released, or expired during a
        // pause) and the watchdog had not noticed yet: the command's end ran unprotected.
        report(
          'lost',
          { key, reason: 'not-held', exitCode: code },
          `the lock "${key}" was already gone when the command exited (force-released or expired); exiting with ${EXIT.LOST}`,
        );
        return EXIT.LOST;
      }
    } catch (error) {
      const explained = explainError(error, args.url);
      report(
        'release-failed',
        { key, message: explained.message },
        `could not release "${key}" (it will expire after its TTL): ${explained.message}`,
      );
    }
    report('released', { key, exitCode: code }, `released "${key}"; command exited with ${code}`);
    return code;
  } finally {
    for (const signal of FORWARDED) process.off(signal, onSignal);
  }
}

function signalLost(
  child: CommandProcess,
  args: RunArgs,
  error: LockLostError,
  report: Report,
): void {
  const action =
    args.onLost === 'ignore'
      ? 'the command keeps running (--on-lost ignore)'
      : args.onLost === 'kill'
        ? 'killing the command (SIGKILL)'
        : 'stopping the command (SIGTERM)';
  report(
    'lost',
    { key: args.key, reason: error.reason, action: args.onLost },
    `LOST the lock "${args.key}" (${error.reason}): another process may hold it now; ${action}`,
  );
  child.lost();
}

/** The lease time left by the client's conservative estimate. */
function remaining(lock: Lock): number {
  // expiresAt is rounded to the millisecond: one less never overstates it.
  return lock.expiresAt - Date.now() - 1;
}

function signalNumber(signal: unknown): number {
  return constants.signals[signal as NodeJS.Signals] ?? 0;
}
