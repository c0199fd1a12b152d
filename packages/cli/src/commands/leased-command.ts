import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { constants, hostname } from 'node:os';
import { basename } from 'node:path';
import type { LockClient, LockLostError } from '@dlock/lock-core';
import { reported } from '@dlock/lock-core/spi';
import { UsageError } from '../cli-error.js';
import { formatDuration, parseDuration } from '../durations.js';
import { EXIT } from '../exit-codes.js';
import { explainError } from '../explain-error.js';
import { type Io, say, toJson } from '../io.js';
import { COMMON_OPTIONS, CREDENTIAL_ENV, connectionUrl, openClient } from '../open-client.js';
import {
  type CommandExit,
  type CommandProcess,
  type OnLostAction,
  startCommand,
} from './command-process.js';
import { sharedRefusal } from './run-target.js';

/*
 * What `dlock run` and `dlock elect` share: both hold one lease (a lock, a permit, a leadership)
 * while COMMAND runs under the guardian, and end, report and exit the same way when COMMAND
 * exits or the lease is lost.
 */

/** Signals dlock passes on to COMMAND's process group once it runs. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** The options `run` and `elect` both take, for `parseOptions`. */
export const LEASED_OPTIONS = {
  ...COMMON_OPTIONS,
  'pass-url': { type: 'boolean', default: false },
  ttl: { type: 'string', default: '30s' },
  wait: { type: 'string', default: 'forever' },
  'on-lost': { type: 'string', default: 'term' },
} as const;

/** What `run` and `elect` parsed from `LEASED_OPTIONS`. */
export interface LeasedArgs {
  readonly url: string;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly onLost: OnLostAction;
  readonly json: boolean;
  /** COMMAND's environment (without the backend's credentials unless --pass-url). */
  readonly env: NodeJS.ProcessEnv;
  /** dlock's own environment, where a password may be. */
  readonly credentialEnv: NodeJS.ProcessEnv;
}

/** `dlock CMD [own options] -- COMMAND [ARGS...]`: dlock's own arguments and COMMAND's. */
export function splitCommand(argv: readonly string[]): { own: string[]; command: string[] } {
  const separator = argv.indexOf('--');
  return separator === -1
    ? { own: [...argv], command: [] }
    : { own: argv.slice(0, separator), command: argv.slice(separator + 1) };
}

/** `LEASED_OPTIONS`' values, checked; `onLost` among `allowed`. */
export function leasedArgs(
  values: {
    ttl: string;
    wait: string;
    'on-lost': string;
    'pass-url': boolean;
    json: boolean;
    url?: string | undefined;
  },
  io: Io,
  allowed: readonly OnLostAction[],
): LeasedArgs {
  const ttlMs = parseDuration('--ttl', values.ttl);
  if (ttlMs < 1) throw new UsageError('--ttl must be at least 1ms');
  const onLost = values['on-lost'] as OnLostAction;
  if (!allowed.includes(onLost)) {
    throw new UsageError(
      `--on-lost takes ${allowed.join(', ').replace(/, (\w+)$/, ' or $1')}; got "${onLost}"`,
    );
  }
  return {
    url: connectionUrl(values, io.env),
    ttlMs,
    waitMs: parseDuration('--wait', values.wait, true),
    onLost,
    json: values.json,
    env: values['pass-url'] ? io.env : withoutCredentials(io.env),
    credentialEnv: io.env,
  };
}

/** The environment without the backend's credentials, for COMMAND. */
function withoutCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of CREDENTIAL_ENV) delete copy[name];
  return copy;
}

/** One of dlock's own events: a JSON line on stderr with --json, else a `dlock: ` message. */
export type Report = (event: string, fields: Record<string, unknown>, human: string) => void;

function reporter(io: Io, json: boolean): Report {
  return (event, fields, human) => {
    if (json) io.stderr.write(`${toJson({ event, ...fields })}\n`);
    else say(io, human);
  };
}

/** Reports `error` in the CLI's words (a shared-lock refusal as bad usage) and returns its exit code. */
export function fail(report: Report, error: unknown, url: string, key: string): number {
  const explained = explainError(sharedRefusal(error, key) ?? error, url);
  report('error', { error: explained.kind, message: explained.message }, explained.message);
  return explained.exitCode;
}

/**
 * Opens the client a leased command holds its lease on, runs `fn` with it and with the reporter
 * of dlock's events, and closes the client. Its `clientId`, the holder everyone sees, is
 * `host:pid:COMMAND`.
 */
export async function withLeaseClient(
  name: string,
  args: LeasedArgs & { readonly key: string; readonly command: readonly string[] },
  io: Io,
  fn: (client: LockClient, report: Report) => Promise<number>,
): Promise<number> {
  const report = reporter(io, args.json);
  let client: LockClient;
  try {
    const clientId = `${hostname()}:${process.pid}:${basename(args.command[0]!)}`.replaceAll(
      '#',
      '_',
    );
    client = await openClient(args.url, { ttlMs: args.ttlMs, clientId }, args.credentialEnv);
  } catch (error) {
    return fail(report, error, args.url, args.key);
  }
  try {
    return await fn(client, report);
  } finally {
    await client.close().catch(reported(`${name}: close`));
  }
}

/** `up to 10s` or `with no time limit`, for "waiting for …" and "campaigning for …". */
export function waitLimit(waitMs: number): string {
  return Number.isFinite(waitMs) ? `up to ${formatDuration(waitMs)}` : 'with no time limit';
}

function signalNumber(signal: unknown): number {
  return constants.signals[signal as NodeJS.Signals] ?? 0;
}

/** The lease COMMAND runs under, as the client tracks it (a `Lock`, a `Leadership`). */
export interface Lease {
  readonly held: boolean;
  /** Conservative end of the lease unless renewed, milliseconds since the Unix epoch. */
  readonly expiresAt: number;
  /** Gives the lease up: `true` by this call, `false` when it was already gone. */
  release(): Promise<boolean>;
}

export interface LeasedCommandOptions {
  readonly args: LeasedArgs;
  readonly command: readonly string[];
  /** The key or election name, for the guardian's messages and the events' `key`. */
  readonly key: string;
  /** For "released …": `"k"`, `a permit of "k"`, `leadership of "k"`. */
  readonly what: string;
  /** For "LOST …": `the lock "k"`, `leadership of "k"`. */
  readonly noun: string;
  /** The event and verb of giving the lease up at the end: `released`, `resigned`. */
  readonly verb: string;
  /** Extra fields of that event (a shared mode's `mode`, `limit`, `permits`). */
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * COMMAND run under one lease. Created before the lease is granted, so a loss or a signal that
 * arrives before COMMAND starts is not missed.
 */
export class LeasedCommand {
  #child: CommandProcess | undefined;
  #lost: LockLostError | undefined;

  constructor(
    private readonly options: LeasedCommandOptions,
    private readonly report: Report,
  ) {}

  /** Passes a signal dlock received on to COMMAND; `false` when COMMAND does not run yet. */
  forward(signal: NodeJS.Signals): boolean {
    this.#child?.signal(signal);
    return this.#child !== undefined;
  }

  /** The watchdog lost the lease: COMMAND is ended per `--on-lost`, now or as soon as it runs. */
  lost(error: LockLostError): void {
    if (this.#lost) return;
    this.#lost = error;
    if (this.#child) this.#signalLost(this.#child, error);
  }

  /**
   * Listens for the signals dlock forwards: until COMMAND runs, one aborts `signal` (ending the
   * wait for the lease, with the signal's name as the reason); afterwards it goes to COMMAND.
   * `stop()` stops listening.
   */
  listen(): { readonly signal: AbortSignal; stop(): void; exitCode(): number } {
    const interrupted = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
      if (!this.forward(signal)) interrupted.abort(signal);
    };
    for (const signal of FORWARDED) process.on(signal, onSignal);
    return {
      signal: interrupted.signal,
      stop: () => {
        for (const signal of FORWARDED) process.off(signal, onSignal);
      },
      // 128 + the signal's number, as shells report a command ended by it.
      exitCode: () => 128 + signalNumber(interrupted.signal.reason),
    };
  }

  /** Runs COMMAND with `env` while `lease` stands and resolves dlock's exit code. */
  async run(lease: Lease, env: NodeJS.ProcessEnv): Promise<number> {
    const { args, key } = this.options;
    const running = startCommand({
      command: this.options.command,
      env,
      key,
      ttlMs: args.ttlMs,
      remainingMs: remaining(lease),
      onLost: args.onLost,
      json: args.json,
    });
    this.#child = running;
    if (this.#lost) this.#signalLost(running, this.#lost);
    // After every renewal the guardian learns how long the lease now stands. The watchdog
    // publishes before it updates the lease's estimate, hence the next turn of the loop. A dlock
    // holds this one lease, so every successful renewal it publishes is this lease's.
    const onExtend = (message: unknown): void => {
      if ((message as { ok: boolean }).ok)
        setImmediate(() => lease.held && running.valid(remaining(lease)));
    };
    subscribe('dlock:extend', onExtend);
    let exit: CommandExit;
    try {
      exit = await running.exited;
    } finally {
      unsubscribe('dlock:extend', onExtend);
    }
    return this.#ended(lease, exit);
  }

  async #ended(lease: Lease, exit: CommandExit): Promise<number> {
    const { key, what, noun, verb, args, command } = this.options;
    const report = this.report;
    if (exit.error) {
      await lease.release().catch(() => false);
      const notFound = exit.error.code === 'ENOENT';
      const message = notFound
        ? `command not found: ${command[0]}`
        : `cannot run ${command[0]}: ${exit.error.message}`;
      report('error', { error: notFound ? 'not-found' : 'cannot-execute', message }, message);
      return notFound ? EXIT.NOT_FOUND : EXIT.CANNOT_EXECUTE;
    }
    const code = exit.code ?? 128 + signalNumber(exit.signal);
    if (exit.endedBy === 'guardian-died') {
      await lease.release().catch(() => false);
      const message = `the guardian of the command died (${exit.signal ?? `exit code ${exit.code}`}); the command's process group was killed`;
      report('error', { error: 'guardian-died', key, message }, message);
      return EXIT.LOST;
    }
    if (exit.endedBy === 'lease-running-out') {
      // No renewal reached the guardian in time (the backend failed, or dlock was stopped or
      // stalled), so it ended the command before the lease could run out.
      await lease.release().catch(() => false);
      report(
        'lost',
        { key, reason: 'not-renewed', exitCode: code, childSignal: exit.signal },
        `the lease of ${what} was not renewed in time (backend failing, or dlock stopped or stalled), so the command was ended before it could run out; exiting with ${EXIT.LOST}`,
      );
      return EXIT.LOST;
    }
    if (this.#lost) {
      report(
        'lost',
        { key, reason: this.#lost.reason, exitCode: code, childSignal: exit.signal },
        `the command ran without ${noun} after it was lost (${this.#lost.reason}); exiting with ${EXIT.LOST}`,
      );
      return EXIT.LOST;
    }
    try {
      if (!(await lease.release())) {
        // The lease was gone before the command ended (force-released, or expired during a
        // pause) and the watchdog had not noticed yet: the command's end ran unprotected.
        report(
          'lost',
          { key, reason: 'not-held', exitCode: code },
          `${noun} was already gone when the command exited (force-released or expired); exiting with ${EXIT.LOST}`,
        );
        return EXIT.LOST;
      }
    } catch (error) {
      const explained = explainError(error, args.url);
      report(
        'release-failed',
        { key, message: explained.message },
        `could not release ${what} (it will expire after its TTL): ${explained.message}`,
      );
    }
    report(
      verb,
      { key, ...this.options.fields, exitCode: code },
      `${verb} ${what}; command exited with ${code}`,
    );
    return code;
  }

  #signalLost(child: CommandProcess, error: LockLostError): void {
    const { onLost } = this.options.args;
    const action =
      onLost === 'ignore'
        ? 'the command keeps running (--on-lost ignore)'
        : onLost === 'kill'
          ? 'killing the command (SIGKILL)'
          : 'stopping the command (SIGTERM)';
    this.report(
      'lost',
      { key: this.options.key, reason: error.reason, action: onLost },
      `LOST ${this.options.noun} (${error.reason}): another process may hold it now; ${action}`,
    );
    child.lost();
  }
}

/** The lease time left by the client's conservative estimate. */
function remaining(lease: Lease): number {
  // expiresAt is rounded to the millisecond: one less never overstates it.
  return lease.expiresAt - Date.now() - 1;
}
