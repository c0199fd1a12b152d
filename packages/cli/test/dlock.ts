import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ManagedProcess, startProcess } from '@dlock/test-utils';

/** The built CLI: the end-to-end tests run it exactly as users do. */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "pnpm --filter @dlock/cli build"`);
}

export interface DlockOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  readyWhen?: RegExp;
}

/** Starts `dlock ARGS…` as its own process (stopped by the caller or when it exits). */
export function startDlock(
  args: readonly string[],
  options: DlockOptions,
): Promise<ManagedProcess> {
  return startProcess({
    name: `dlock ${args.join(' ')}`,
    command: process.execPath,
    args: [BIN, ...args],
    env: options.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.readyWhen === undefined
      ? {}
      : { readyWhen: options.readyWhen, readyTimeoutMs: 20_000 }),
  });
}

export interface DlockResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved. */
  output: string;
  stdout: string[];
}

/** Runs `dlock ARGS…` to completion. */
export async function dlock(args: readonly string[], options: DlockOptions): Promise<DlockResult> {
  const managed = await startDlock(args, options);
  const { code, signal } = await managed.exited;
  return { code, signal, output: managed.output(), stdout: managed.stdoutLines() };
}

/** The JSON objects among `text`'s lines (dlock --json events, one per line). */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Whether `pid` is a process that can still run (a zombie nobody has reaped yet cannot). */
export function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
  if (process.platform !== 'linux') return true;
  try {
    // /proc/PID/stat: "PID (comm) STATE ...": Z is a zombie.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // gone between the two checks
  }
}
