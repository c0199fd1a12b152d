import type { LockInfo } from '@dlock/lock-core';
import { formatDuration } from './durations.js';

/** `held by host:123:ab (fencing token 7, count 1, lease ends in 24.1s)`, or `free`. */
export function describeHolder(info: LockInfo | null): string {
  if (!info) return 'free';
  const token = info.fencingToken === undefined ? '' : `fencing token ${info.fencingToken}, `;
  const count = info.count > 1 ? `re-entered ${info.count} times, ` : '';
  return `held by ${info.holder} (${token}${count}lease ends in ${formatDuration(info.expiresAt - Date.now())})`;
}

/** The JSON shape of a key's state, shared by `status` and `run`. */
export function holderJson(key: string, info: LockInfo | null): Record<string, unknown> {
  if (!info) return { key, held: false };
  return {
    key,
    held: true,
    holder: info.holder,
    count: info.count,
    fencingToken: info.fencingToken,
    expiresAt: new Date(info.expiresAt).toISOString(),
    expiresInMs: Math.max(0, info.expiresAt - Date.now()),
  };
}
