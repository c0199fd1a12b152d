import { randomBytes } from 'node:crypto';

/** A unique key prefix per test file run, so runs never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `dlock-test:${label}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
}

/** `prefix` plus 8 random hex digits: a name (key prefix, table) of this test run's own. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}
