import { UsageError } from '../cli-error.js';

/** What `dlock run` takes: the lock (default), permits of a semaphore, or one side of a read-write lock. */
export type RunMode =
  | { readonly kind: 'lock' }
  | {
      readonly kind: 'semaphore';
      readonly limit: number;
      readonly permits: number;
      readonly changeLimit: boolean;
    }
  | { readonly kind: 'read' }
  | { readonly kind: 'write' };

/** The most permits a semaphore may have: lock-core's bound (MAX_SEMAPHORE_LIMIT), checked here before any I/O. */
const MAX_LIMIT = 1_000_000;

/** `--limit N`, `--permits K`: a whole number from 1 up, written as one. */
function count(option: string, text: string, max: number): number {
  const n = /^[1-9][0-9]*$/.test(text) ? Number(text) : Number.NaN;
  if (!(n <= max))
    throw new UsageError(`${option} takes a whole number from 1 to ${max}; got "${text}"`);
  return n;
}

/** What `dlock run` takes, from --limit/--permits/--change-limit/--read/--write. */
export function parseMode(values: {
  limit?: string | undefined;
  permits?: string | undefined;
  'change-limit'?: boolean | undefined;
  read?: boolean | undefined;
  write?: boolean | undefined;
}): RunMode {
  const chosen = [
    values.limit !== undefined ? '--limit' : '',
    values.read ? '--read' : '',
    values.write ? '--write' : '',
  ].filter((name) => name !== '');
  if (chosen.length > 1) {
    throw new UsageError(
      `${chosen.join(' and ')} cannot be combined: --limit N takes a permit of the semaphore KEY, --read and --write one side of the read-write lock KEY`,
    );
  }
  if (values.limit === undefined) {
    for (const [option, given] of [
      ['--permits', values.permits !== undefined],
      ['--change-limit', values['change-limit'] === true],
    ] as const) {
      if (given) throw new UsageError(`${option} goes with --limit N (the semaphore's size)`);
    }
    if (values.read) return { kind: 'read' };
    if (values.write) return { kind: 'write' };
    return { kind: 'lock' };
  }
  const limit = count('--limit', values.limit, MAX_LIMIT);
  const permits = values.permits === undefined ? 1 : count('--permits', values.permits, MAX_LIMIT);
  if (permits > limit) {
    throw new UsageError(
      `--permits ${permits} is more than --limit ${limit}: such a request could never be granted`,
    );
  }
  return { kind: 'semaphore', limit, permits, changeLimit: values['change-limit'] === true };
}
