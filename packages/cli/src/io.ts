/** Where a command writes; the tests and `main()` callers can substitute their own. */
export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

/** A line on stdout. */
export function out(io: Io, line: string): void {
  io.stdout.write(`${line}\n`);
}

/** A message for the human on stderr, prefixed so it stands out from the command's own output. */
export function say(io: Io, line: string): void {
  io.stderr.write(`dlock: ${line}\n`);
}

/** JSON with bigints as decimal strings (fencing tokens, snowflakes), one object per line. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
