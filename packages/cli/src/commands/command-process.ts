import { type ChildProcess, spawn } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import type {
  FromGuardian,
  GuardianConfig,
  GuardianReason,
  ToGuardian,
} from '../guardian/protocol.js';
import { guardianTimings, monotonicDeadline } from '../guardian/protocol.js';
import { guardianPath } from '../guardian-path.js';

/** Grace between SIGTERM and SIGKILL for `--on-lost term` once dlock has seen the loss. */
export const KILL_AFTER_MS = 10_000;

const errors = channel('dlock:error');

export type OnLostAction = 'term' | 'kill' | 'ignore';

/** How the user's command ended. */
export interface CommandExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** It could not be started (`code` ENOENT: not found). */
  readonly error?: { readonly code: string | undefined; readonly message: string };
  /** The guardian ended it on its own, or the guardian itself died (and dlock killed the group). */
  readonly endedBy?: GuardianReason | 'guardian-died';
}

/** The user's command as `dlock run` drives it. */
export interface CommandProcess {
  /** Passes on a signal dlock received. */
  signal(signal: NodeJS.Signals): void;
  /** The lock was lost: end the command per `--on-lost` (nothing for `ignore`). */
  lost(): void;
  /** After each grant or renewal: the lease stands for `remainingMs` more (conservatively). */
  valid(remainingMs: number): void;
  readonly exited: Promise<CommandExit>;
}

export interface CommandOptions {
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly key: string;
  readonly ttlMs: number;
  /** Lease time left when the command starts. */
  readonly remainingMs: number;
  readonly onLost: OnLostAction;
  readonly json: boolean;
}

/**
 * Starts the command under a guardian (see src/guardian.ts) so it cannot outlive the lock when
 * dlock is killed or frozen; directly, as a plain child in dlock's process group, for
 * `--on-lost ignore` (the command is never ended because of the lock) and on Windows (no
 * process groups to end; the command then outlives a killed dlock).
 */
export function startCommand(options: CommandOptions): CommandProcess {
  return options.onLost === 'ignore' || process.platform === 'win32'
    ? startDirect(options)
    : startGuarded(options);
}

function startDirect(options: CommandOptions): CommandProcess {
  const child = spawn(options.command[0]!, options.command.slice(1), {
    stdio: 'inherit',
    env: options.env,
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    signal(signal) {
      child.kill(signal);
    },
    lost() {
      if (options.onLost === 'ignore' || !running()) return;
      child.kill(options.onLost === 'kill' ? 'SIGKILL' : 'SIGTERM');
      if (options.onLost === 'term') {
        const timer = setTimeout(() => {
          if (running()) child.kill('SIGKILL');
        }, KILL_AFTER_MS);
        timer.unref();
        child.once('exit', () => clearTimeout(timer));
      }
    },
    valid() {},
    exited: new Promise((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) =>
        resolve({
          code: null,
          signal: null,
          error: { code: error.code, message: error.message },
        }),
      );
      child.once('exit', (code, signal) => resolve({ code, signal }));
    }),
  };
}

function startGuarded(options: CommandOptions): CommandProcess {
  const config: GuardianConfig = {
    command: options.command,
    key: options.key,
    wrapperPid: process.pid,
    untilNs: monotonicDeadline(options.remainingMs),
    onLost: options.onLost === 'kill' ? 'kill' : 'term',
    ...guardianTimings(options.ttlMs),
    lostGraceMs: KILL_AFTER_MS,
    json: options.json,
  };
  const guardian: ChildProcess = spawn(process.execPath, [guardianPath(), JSON.stringify(config)], {
    // The command inherits stdin/stdout/stderr through the guardian; fd 3 is the IPC channel.
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: options.env,
    // Outside dlock's process group: `kill -9 -PGID` of dlock's group leaves the guardian to
    // notice and end the command.
    detached: true,
  });
  let commandPid: number | undefined;
  let reported: CommandExit | undefined;
  guardian.on('message', (message: FromGuardian) => {
    if (message.type === 'spawned') commandPid = message.pid;
    else if (message.type === 'spawn-error')
      reported = {
        code: null,
        signal: null,
        error: { code: message.code, message: message.message },
      };
    else if (message.type === 'exit')
      reported = {
        code: message.code,
        signal: message.signal,
        ...(message.endedBy === undefined ? {} : { endedBy: message.endedBy }),
      };
  });
  const tell = (message: ToGuardian): void => {
    if (!guardian.connected) return;
    // The guardian may be exiting (the command ended): a message it cannot take is moot, and its
    // exit is handled below. The callback keeps the failure from becoming an 'error' event.
    guardian.send(message, (error) => {
      if (error && errors.hasSubscribers) errors.publish({ where: 'dlock run: guardian', error });
    });
  };
  const exited = new Promise<CommandExit>((resolve) => {
    let started = false;
    guardian.once('spawn', () => {
      started = true;
    });
    guardian.on('error', (error: NodeJS.ErrnoException) => {
      if (started) {
        if (errors.hasSubscribers) errors.publish({ where: 'dlock run: guardian', error });
        return;
      }
      resolve({
        code: null,
        signal: null,
        error: { code: undefined, message: `cannot start the guardian: ${error.message}` },
      });
    });
    // Both its exit and the end of its IPC channel: only then is its last message surely in.
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let disconnected = false;
    const settle = () => {
      if (!exit || !disconnected) return;
      if (reported) return resolve(reported);
      // The guardian died without a word (killed): the command may be running unguarded.
      if (commandPid !== undefined) {
        try {
          process.kill(-commandPid, 'SIGKILL');
        } catch {
          // ESRCH: the group is already empty.
        }
      }
      resolve({ ...exit, endedBy: 'guardian-died' });
    };
    guardian.once('exit', (code, signal) => {
      exit = { code, signal };
      settle();
    });
    guardian.once('disconnect', () => {
      disconnected = true;
      settle();
    });
  });
  return {
    signal(signal) {
      tell({ type: 'signal', signal });
    },
    lost() {
      tell({ type: 'lost' });
    },
    valid(remainingMs) {
      tell({ type: 'valid', untilNs: monotonicDeadline(remainingMs) });
    },
    exited,
  };
}
