import { LockError, maskCredentials } from '@dlock/lock-core';
import { UsageError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

export interface Explained {
  readonly exitCode: number;
  /** One or two plain sentences for a human. */
  readonly message: string;
  /** A stable word for `--json` consumers. */
  readonly kind: 'usage' | 'backend' | 'timeout' | 'lost' | 'internal';
}

const KNOWN_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'nothing is listening there (is the server running?)',
  ENOTFOUND: 'that host name does not resolve',
  EAI_AGAIN: 'that host name does not resolve right now',
  ETIMEDOUT: 'the connection timed out',
  ECONNRESET: 'the server closed the connection',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  SQLITE_BUSY: 'another process kept the SQLite file locked for longer than the busy timeout',
  SQLITE_CANTOPEN: 'the SQLite file cannot be opened (check the path and its permissions)',
  SQLITE_READONLY: 'the SQLite file is read-only',
  ER_NO_SUCH_TABLE:
    'the lock table does not exist yet: create it once with ensureSchema() or the DDL in the @dlock/lock-mysql README',
  ER_ACCESS_DENIED_ERROR: 'the server refused the user name or password',
  ER_BAD_DB_ERROR: 'that database does not exist on the server',
};

/** Turns any failure into the words and exit code dlock prints, hiding no cause. */
export function explainError(error: unknown, url?: string): Explained {
  if (error instanceof UsageError)
    return { exitCode: error.exitCode, message: maskCredentials(error.message), kind: 'usage' };
  if (LockError.isInstance(error)) {
    switch (error.code) {
      case 'DLOCK_ARGUMENT':
        return { exitCode: EXIT.USAGE, message: error.message, kind: 'usage' };
      case 'DLOCK_TIMEOUT':
        return { exitCode: EXIT.TIMEOUT, message: error.message, kind: 'timeout' };
      case 'DLOCK_LOST':
        return { exitCode: EXIT.LOST, message: error.message, kind: 'lost' };
      default: {
        const cause = rootCause(error);
        const code = (cause as { code?: string } | undefined)?.code;
        const hint =
          code === 'ER_NO_SUCH_TABLE' && url
            ? `the lock table does not exist yet: create it once with dlock schema '${redact(url)}' --apply (without --apply it prints the DDL, for your migrations)`
            : code
              ? KNOWN_CAUSES[code]
              : undefined;
        const where = url ? ` at ${redact(url)}` : '';
        const detail = maskCredentials(cause instanceof Error ? cause.message : error.message);
        return {
          exitCode: EXIT.BACKEND,
          message: `cannot use the lock backend${where}: ${hint ?? detail}${hint ? ` (${detail})` : ''}`,
          kind: 'backend',
        };
      }
    }
  }
  const code = (error as { code?: string } | undefined)?.code;
  if (code && KNOWN_CAUSES[code]) {
    return {
      exitCode: EXIT.BACKEND,
      message: `cannot use the lock backend${url ? ` at ${redact(url)}` : ''}: ${KNOWN_CAUSES[code]}`,
      kind: 'backend',
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    exitCode: EXIT.INTERNAL,
    message: `unexpected failure: ${maskCredentials(message)}`,
    kind: 'internal',
  };
}

function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    const next = (current as { cause?: unknown } | undefined)?.cause;
    if (next === undefined) return current;
    current = next;
  }
  return current;
}

/**
 * Never print a password from the URL: user info (`user:***@`), `?password=` (Redlock's form)
 * and the like, also in a URL that does not parse.
 */
export function redact(url: string): string {
  return maskCredentials(url);
}
