import type { LockInfo } from '@dlock/lock-core';
import { formatDuration } from './durations.js';

/**
 * A name from the backend (anyone who can write there chose it) made safe for a terminal: CR,
 * LF, ESC and every other control character are shown as escapes (`\n`, `\x1b`), never sent
 * raw, so a holder name cannot forge output lines or drive the terminal.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** `held by host:123:ab (fencing token 7, count 1, lease ends in 24.1s)`, or `free`. */
export function describeHolder(info: LockInfo | null): string {
  if (!info) return 'free';
  const token = info.fencingToken === undefined ? '' : `fencing token ${info.fencingToken}, `;
  const count = info.count > 1 ? `re-entered ${info.count} times, ` : '';
  return `held by ${printable(info.holder)} (${token}${count}lease ends in ${formatDuration(info.expiresAt - Date.now())})`;
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
