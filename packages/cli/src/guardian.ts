/**
 * The guardian of `dlock run` (an internal entry point, dist/guardian.js): started by dlock once
 * the lock is granted, it runs the user's command in a session and process group of its own and
 * ends that whole group when dlock can no longer vouch for the lock:
 * - dlock is gone (its IPC channel closed: killed by any signal, SIGKILL and the OOM killer
 *   included): SIGTERM at once, SIGKILL after the grace, or sooner so it lands before the lease
 *   could have run out;
 * - dlock sent no renewal news and the lease is about to run out by the guardian's own clock
 *   (dlock stopped, or its event loop stalled): SIGTERM, then SIGKILL before the lease's end;
 * - dlock reports the lock lost (`--on-lost term|kill`).
 * It exits once the command has exited (and has been reaped, so its pid is free).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type {
  FromGuardian,
  GuardianConfig,
  GuardianReason,
  ToGuardian,
} from './guardian/protocol.js';
import { msUntil } from './guardian/protocol.js';

const config = JSON.parse(process.argv[2] ?? '') as GuardianConfig;
let untilNs = BigInt(config.untilNs);
let endedBy: GuardianReason | undefined;
let termSent = false;
let killSent = false;
let exited = false;
/** Set once the command is being ended: SIGKILL no later than this (ms on the monotonic clock). */
let killByNs: bigint | undefined;
let termTimer: NodeJS.Timeout | undefined;
let killTimer: NodeJS.Timeout | undefined;

// A diagnostic the guardian prints must never end it: its stderr may be a pipe nobody reads
// any more once dlock is gone (EPIPE).
process.stderr.on('error', () => {});

function report(event: string, fields: Record<string, unknown>, human: string): void {
  process.stderr.write(
    config.json
      ? `${JSON.stringify({ event, key: config.key, ...fields })}\n`
      : `dlock: ${human}\n`,
  );
}

/** Sends `message` if dlock is still there; `then` runs once it is written (or cannot be). */
function send(message: FromGuardian, then?: () => void): void {
  if (process.connected && process.send) process.send(message, undefined, {}, () => then?.());
  else then?.();
}

const child = spawn(config.command[0]!, config.command.slice(1), {
  stdio: 'inherit',
  // Its own session and process group, so the whole group can be ended with one kill(-pgid),
  // and a signal to dlock's own process group (kill -9 -PGID) does not reach it unnoticed.
  detached: true,
});

function signalGroup(signal: NodeJS.Signals): void {
  if (exited || child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}

function killNow(): void {
  clearTimeout(termTimer);
  clearTimeout(killTimer);
  if (killSent) return;
  killSent = true;
  signalGroup('SIGKILL');
}

/** SIGKILL at `atNs` at the latest (never later than the lease's end minus the margin). */
function killBy(atNs: bigint): void {
  const leaseBound = untilNs - BigInt(config.killMarginMs) * 1_000_000n;
  const at = atNs < leaseBound ? atNs : leaseBound;
  if (killByNs !== undefined && killByNs <= at) return;
  killByNs = at;
  clearTimeout(killTimer);
  const ms = msUntil(at);
  if (ms <= 0) killNow();
  else killTimer = setTimeout(killNow, Math.ceil(ms));
}

function terminate(): void {
  if (termSent) return;
  termSent = true;
  signalGroup('SIGTERM');
}

/** Ends the command: SIGTERM now and SIGKILL after `graceMs` (or at once with --on-lost kill). */
function end(graceMs: number): void {
  clearTimeout(termTimer);
  if (config.onLost === 'kill') {
    killNow();
    return;
  }
  terminate();
  killBy(process.hrtime.bigint() + BigInt(graceMs) * 1_000_000n);
}

/** (Re)arms the lease deadline: SIGTERM `termGraceMs` before it, SIGKILL `killMarginMs` before. */
function armLeaseDeadline(): void {
  if (exited || termSent || killSent) return;
  clearTimeout(termTimer);
  clearTimeout(killTimer);
  const termMs =
    msUntil(untilNs) - (config.onLost === 'kill' ? config.killMarginMs : config.termGraceMs);
  const onDeadline = () => {
    endedBy ??= 'lease-running-out';
    report(
      'guardian',
      { reason: 'lease-running-out', action: config.onLost, wrapperPid: config.wrapperPid },
      `no renewal of "${config.key}" from dlock (pid ${config.wrapperPid}) and its lease is about to run out: ${config.onLost === 'kill' ? 'killing the command (SIGKILL)' : 'stopping the command (SIGTERM, then SIGKILL before the lease ends)'}`,
    );
    end(config.termGraceMs);
  };
  if (termMs <= 0) onDeadline();
  else termTimer = setTimeout(onDeadline, Math.ceil(termMs));
}

child.once('error', (error: NodeJS.ErrnoException) => {
  exited = true;
  clearTimeout(termTimer);
  send({ type: 'spawn-error', code: error.code, message: error.message }, () =>
    finish(error.code === 'ENOENT' ? 127 : 126),
  );
});

child.once('spawn', () => {
  send({ type: 'spawned', pid: child.pid! });
});

child.once('exit', (code, signal) => {
  exited = true;
  clearTimeout(termTimer);
  clearTimeout(killTimer);
  send({ type: 'exit', code, signal, endedBy }, () =>
    finish(code ?? 128 + (constants.signals[signal!] ?? 0)),
  );
});

/** Exits with `code` once the last message to dlock is written. */
function finish(code: number): void {
  process.exitCode = code;
  // Nothing else keeps the guardian alive once the channel is closed.
  if (process.connected) process.disconnect();
}

process.on('message', (message: ToGuardian) => {
  if (message.type === 'valid') {
    // The latest estimate stands, even a shorter one (a server may renew for less than asked).
    untilNs = BigInt(message.untilNs);
    armLeaseDeadline();
  } else if (message.type === 'signal') {
    signalGroup(message.signal);
  } else if (message.type === 'lost') {
    end(config.lostGraceMs);
  }
});

process.on('disconnect', () => {
  if (exited) return;
  endedBy = 'wrapper-gone';
  report(
    'guardian',
    { reason: 'wrapper-gone', action: config.onLost, wrapperPid: config.wrapperPid },
    `dlock (pid ${config.wrapperPid}) is gone while holding "${config.key}": ${config.onLost === 'kill' ? 'killing the command (SIGKILL)' : 'stopping the command (SIGTERM, then SIGKILL before the lease could run out)'}`,
  );
  end(config.termGraceMs);
});

// The guardian has no terminal (its own session), but a signal sent to it directly must not
// leave the command unguarded: pass it on, as dlock does.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const) {
  process.on(signal, () => signalGroup(signal));
}

// Not before the first turn of the event loop: renewal news dlock sent while this process was
// starting up is read then (the poll phase comes before setImmediate), and must not be
// overtaken by the older deadline from the command line.
setImmediate(armLeaseDeadline);
