import type { LeaseHolderInfo, ReadWriteLockInfo, SemaphoreInfo } from '@dlock/lock-core';
import { printable } from './describe-holder.js';
import { formatDuration } from './durations.js';

// How `status` and `run` show the holders of a semaphore or a read-write lock: the same words
// and JSON fields as a lock's holder (describe-holder.ts), one line or object per lease.

/** One lease as JSON: the fields of a lock's holder plus its permits. */
export function leaseJson(lease: LeaseHolderInfo): Record<string, unknown> {
  return {
    holder: lease.holder,
    permits: lease.permits,
    count: lease.count,
    fencingToken: lease.fencingToken,
    expiresAt: new Date(lease.expiresAt).toISOString(),
    expiresInMs: Math.max(0, lease.expiresAt - Date.now()),
  };
}

/** `fencing token 7, lease ends in 24.1s` (and the permits or hold count when they say something). */
function leaseDetails(lease: LeaseHolderInfo, showPermits: boolean): string {
  const permits = showPermits ? `${lease.permits} permit${lease.permits === 1 ? '' : 's'}, ` : '';
  const token = lease.fencingToken === undefined ? '' : `fencing token ${lease.fencingToken}, `;
  const count = lease.count > 1 ? `re-entered ${lease.count} times, ` : '';
  return `${permits}${token}${count}lease ends in ${formatDuration(lease.expiresAt - Date.now())}`;
}

function waitersJson(waiters: number | undefined): Record<string, unknown> {
  return waiters === undefined ? {} : { waiters };
}

function waitersText(waiters: number | undefined): string {
  return waiters === undefined || waiters === 0 ? '' : `, ${waiters} waiting`;
}

/** The JSON shape of a semaphore's state (`status --limit`, and `run --limit`'s events). */
export function semaphoreJson(info: SemaphoreInfo): Record<string, unknown> {
  return {
    key: info.key,
    kind: 'semaphore',
    held: info.holders.length > 0,
    limit: info.limit,
    available: info.available,
    holders: info.holders.map(leaseJson),
    ...waitersJson(info.waiters),
  };
}

/** The JSON shape of a read-write lock's state (`status --rw`, and `run --read/--write`'s events). */
export function readWriteJson(info: ReadWriteLockInfo): Record<string, unknown> {
  return {
    key: info.key,
    kind: 'read-write',
    held: info.writer !== null || info.readers.length > 0,
    writer: info.writer === null ? null : leaseJson(info.writer),
    readers: info.readers.map(leaseJson),
    ...waitersJson(info.waiters),
  };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** `limit 2, 0 available: held by a (1 permit), b (1 permit)`: one line, for `run`'s messages. */
export function summarizeSemaphore(info: SemaphoreInfo): string {
  const holders = info.holders
    .map((lease) => `${printable(lease.holder)} (${count(lease.permits, 'permit')})`)
    .join(', ');
  return `limit ${info.limit}, ${info.available} available${holders ? `: held by ${holders}` : ''}${waitersText(info.waiters)}`;
}

/** `written by a`, `read by 2 readers`, `free`: one line, for `run`'s messages. */
export function summarizeReadWrite(info: ReadWriteLockInfo): string {
  const parts: string[] = [];
  if (info.writer) parts.push(`written by ${printable(info.writer.holder)}`);
  if (info.readers.length > 0) parts.push(`read by ${count(info.readers.length, 'reader')}`);
  return `${parts.length > 0 ? parts.join(' and ') : 'free'}${waitersText(info.waiters)}`;
}

/**
 * `status --limit`'s lines: a heading, then one line per holder. `askedLimit` is the --limit
 * given: a stored limit that differs from it is pointed out (a `run` with it would be refused).
 */
export function describeSemaphore(info: SemaphoreInfo, askedLimit: number): string[] {
  const stored =
    info.limit === askedLimit ? '' : ` (stored on the server; --limit ${askedLimit} differs)`;
  const held = info.holders.length === 0 ? 'free' : count(info.holders.length, 'holder');
  const heading = `${printable(info.key)}: semaphore of limit ${info.limit}${stored}, ${info.available} available, ${held}${waitersText(info.waiters)}`;
  return [
    heading,
    ...info.holders.map((lease) => `  ${printable(lease.holder)} (${leaseDetails(lease, true)})`),
  ];
}

/** `status --rw`'s lines: a heading, then the writer and each reader on a line of its own. */
export function describeReadWrite(info: ReadWriteLockInfo): string[] {
  const lines = [`${printable(info.key)}: ${summarizeReadWrite(info)}`];
  if (info.writer) {
    lines.push(`  writer ${printable(info.writer.holder)} (${leaseDetails(info.writer, false)})`);
  }
  for (const reader of info.readers) {
    lines.push(`  reader ${printable(reader.holder)} (${leaseDetails(reader, false)})`);
  }
  return lines;
}
