import type { LeaderInfo } from '@dlock/lock-core';
import { printable } from './describe-holder.js';
import { formatDuration } from './durations.js';

/** `led by web-1 (term 7, holder web-1:4242:sched.sh, lease ends in 24.1s)`, or `no leader`. */
export function describeLeader(info: LeaderInfo | null): string {
  if (!info) return 'no leader';
  return `led by ${printable(info.value)} (term ${info.term}, holder ${printable(info.holder)}, lease ends in ${formatDuration(info.expiresAt - Date.now())})`;
}

/** The JSON shape of an election's state, shared by `leader` and `elect`. */
export function leaderJson(name: string, info: LeaderInfo | null): Record<string, unknown> {
  if (!info) return { name, leader: false };
  return {
    name,
    leader: true,
    value: info.value,
    term: info.term,
    holder: info.holder,
    expiresAt: new Date(info.expiresAt).toISOString(),
    expiresInMs: Math.max(0, info.expiresAt - Date.now()),
  };
}
