import { describe, expect, it } from 'vitest';
import { startCommand } from '../src/commands/command-process.js';

/** `node -e script` as the user's command. */
const node = (script: string) => [process.execPath, '-e', script];
const base = { env: process.env, key: 'k', json: false } as const;

describe('startCommand (in process; the guardian is the built dist/guardian.js)', () => {
  it('guarded: passes the exit code through', async () => {
    const command = startCommand({
      ...base,
      command: node('process.exit(3)'),
      ttlMs: 5_000,
      remainingMs: 5_000,
      onLost: 'term',
    });
    expect(await command.exited).toEqual({ code: 3, signal: null });
  });

  it('guarded: lost() with --on-lost kill ends the command with SIGKILL', async () => {
    const command = startCommand({
      ...base,
      command: node('setInterval(() => {}, 1000)'),
      ttlMs: 60_000,
      remainingMs: 60_000,
      onLost: 'kill',
    });
    command.valid(60_000);
    command.lost();
    const exit = await command.exited;
    expect(exit.signal).toBe('SIGKILL');
  });

  it('guarded: without news of a renewal, the guardian ends the command before the lease ends', async () => {
    const command = startCommand({
      ...base,
      command: node('setInterval(() => {}, 1000)'),
      ttlMs: 1_000,
      remainingMs: 1_000,
      onLost: 'term',
    });
    const exit = await command.exited;
    expect(exit.endedBy).toBe('lease-running-out');
  });

  it('direct (--on-lost ignore): passes the exit code through, and a missing command is reported', async () => {
    const ok = startCommand({
      ...base,
      command: node('process.exit(5)'),
      ttlMs: 5_000,
      remainingMs: 5_000,
      onLost: 'ignore',
    });
    expect((await ok.exited).code).toBe(5);
    const missing = startCommand({
      ...base,
      command: ['/nonexistent/dlock-test-command'],
      ttlMs: 5_000,
      remainingMs: 5_000,
      onLost: 'ignore',
    });
    expect((await missing.exited).error?.code).toBe('ENOENT');
  });
});
