import { Writable } from 'node:stream';
import type { Io } from '../src/io.js';

/** An `Io` that keeps what a command wrote, for the in-process tests of `main()`. */
export function captureIo(env: NodeJS.ProcessEnv = {}): Io & { out(): string; err(): string } {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  return {
    stdout: sink((text) => {
      stdout += text;
    }),
    stderr: sink((text) => {
      stderr += text;
    }),
    env,
    out: () => stdout,
    err: () => stderr,
  };
}
