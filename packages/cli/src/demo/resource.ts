import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The demo's shared resource: a counter in a JSON file that remembers the highest fencing token
 * that wrote it, and refuses writes that carry a lower one. That check at the resource is what
 * makes a lock safe even when a holder pauses past its lease (see docs/guarantees.md).
 */
export interface ResourceState {
  value: number;
  lastToken: string;
}

export function resourceFiles(dir: string): { state: string; tokens: string } {
  return { state: join(dir, 'resource.json'), tokens: join(dir, 'tokens.log') };
}

export function initResource(dir: string): void {
  const files = resourceFiles(dir);
  writeFileSync(files.state, JSON.stringify({ value: 0, lastToken: '0' }));
  writeFileSync(files.tokens, '');
}

export function readResource(dir: string): ResourceState {
  return JSON.parse(readFileSync(resourceFiles(dir).state, 'utf8')) as ResourceState;
}

/**
 * Writes `value` with `token` unless a write with an equal or higher token already landed.
 * Returns whether it was accepted. Not atomic on its own: the lock makes read-check-write one
 * critical section, the token check catches a holder that lost the lock without knowing.
 */
export function writeResource(dir: string, value: number, token: bigint): boolean {
  const files = resourceFiles(dir);
  const current = readResource(dir);
  if (BigInt(current.lastToken) >= token) return false;
  // Write-then-rename, so a reader never sees half a file.
  writeFileSync(`${files.state}.tmp`, JSON.stringify({ value, lastToken: token.toString() }));
  renameSync(`${files.state}.tmp`, files.state);
  appendFileSync(files.tokens, `${token}\n`);
  return true;
}

/** The tokens of accepted writes, in the order they landed. */
export function readTokens(dir: string): bigint[] {
  return readFileSync(resourceFiles(dir).tokens, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => BigInt(line));
}
