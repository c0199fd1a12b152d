import { type ChildProcess, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** How a managed process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process started by a test, stopped only through this handle (by its own pid). */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Settles when the process has exited and everything it printed has been read. */
  readonly exited: Promise<ProcessExit>;
  /** Everything it printed so far (stdout and stderr interleaved, last 64 KiB). */
  output(): string;
  /** Lines it printed on stdout so far. */
  stdoutLines(): string[];
  /**
   * Resolves with the first match of `pattern` in its output (what it printed so far, then as it
   * prints); rejects if it exits first or nothing matches within `timeoutMs` (default 10000).
   */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (default SIGTERM) and waits; SIGKILL after `graceMs`. No-op once exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ProcessExit>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<ProcessExit>;
}

export interface StartProcessOptions {
  /** Label for errors and diagnostics. */
  name?: string;
  command: string;
  args?: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve only once the output matches this (for example a server's "ready" line). */
  readyWhen?: RegExp;
  /**
   * How long to wait for `readyWhen`, in milliseconds.
   * @default 10000
   */
  readyTimeoutMs?: number;
}

const running = new Set<ManagedProcess>();
let exitHookInstalled = false;

/** Kills, by pid, whatever this process started and did not stop: never leaves servers behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const managed of running) {
      try {
        process.kill(managed.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Starts a process and, with `readyWhen`, waits until it says it is ready. */
export async function startProcess(options: StartProcessOptions): Promise<ManagedProcess> {
  const { command, args = [], cwd, env, readyWhen, readyTimeoutMs = 10_000 } = options;
  const name = options.name ?? command;
  installExitHook();
  const child = spawn(command, [...args], {
    cwd,
    env: env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdoutBuffer = '';
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  // Decoded by the streams, so a multi-byte character split across chunks stays whole.
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  const append = (chunk: string) => {
    output = (output + chunk).slice(-65_536);
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', (chunk: string) => {
    stdoutBuffer += chunk;
    const parts = stdoutBuffer.split('\n');
    stdoutBuffer = parts.pop() ?? '';
    lines.push(...parts);
    append(chunk);
  });
  child.stderr?.on('data', append);
  const exited = new Promise<ProcessExit>((resolve) => {
    // 'exit' can come before the last of the output has been read from the pipes: a worker that
    // prints 50,000 ids and ends lost the tail of them under load. 'close' comes after both
    // streams ended. A grandchild that inherited the pipes could hold them open for good, so
    // once the process itself is gone, its streams get a moment to drain and no more.
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(drainTimer);
      child.removeAllListeners('close');
      if (stdoutBuffer) lines.push(stdoutBuffer);
      stdoutBuffer = '';
      running.delete(managed);
      resolve({ code, signal });
    };
    child.once('close', finish);
    child.once('exit', (code, signal) => {
      drainTimer = setTimeout(() => finish(code, signal), 2_000);
      drainTimer.unref();
    });
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await spawned;
  let done = false;
  void exited.then(() => {
    done = true;
  });

  const managed: ManagedProcess = {
    name,
    pid: child.pid!,
    child,
    exited,
    output: () => output,
    stdoutLines: () => [...lines],
    async stop(signal = 'SIGTERM', graceMs = 5_000) {
      if (done) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    kill() {
      return managed.stop('SIGKILL');
    },
    waitForOutput(pattern, timeoutMs = 10_000) {
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) finish(match);
        };
        const timer = setTimeout(
          () =>
            finish(new Error(`${name}: no ${pattern} within ${timeoutMs} ms. Output:\n${output}`)),
          timeoutMs,
        );
        const finish = (result: RegExpMatchArray | Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (result instanceof Error) reject(result);
          else resolve(result);
        };
        listeners.add(check);
        void exited.then(({ code, signal }) => {
          check();
          finish(
            new Error(
              `${name} exited (code ${code}, signal ${signal}) before printing ${pattern}. Output:\n${output}`,
            ),
          );
        });
        check();
      });
    },
  };
  running.add(managed);

  if (readyWhen) {
    await managed.waitForOutput(readyWhen, readyTimeoutMs).catch(async (error: unknown) => {
      await managed.kill();
      throw error;
    });
  }
  return managed;
}

export interface NodeWorkerOptions {
  name?: string;
  args?: readonly string[];
  cwd?: string;
  /** Extra environment variables (merged over this process's environment). */
  env?: Record<string, string>;
  readyWhen?: RegExp;
  readyTimeoutMs?: number;
}

/**
 * Runs a TypeScript worker script in a separate Node.js process through tsx, like another
 * instance of the application would run.
 */
export function spawnNodeWorker(
  script: string,
  options: NodeWorkerOptions = {},
): Promise<ManagedProcess> {
  const tsx = import.meta.resolve('tsx');
  return startProcess({
    name: options.name ?? script,
    command: process.execPath,
    args: ['--import', tsx, script, ...(options.args ?? [])],
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.readyWhen === undefined ? {} : { readyWhen: options.readyWhen }),
    ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
  });
}

/** Whether an executable of this name is on PATH. */
export async function commandExists(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}
