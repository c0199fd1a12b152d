import { inspect } from 'node:util';

/**
 * Every printable form a logger might produce of an error and its cause (JSON, a deep
 * `util.inspect` with hidden fields, `String()`), joined: a secret must appear in none of them.
 */
export function printedForms(value: unknown): string {
  const cause = (value as { cause?: unknown }).cause;
  return [
    JSON.stringify(value),
    JSON.stringify(cause ?? null),
    inspect(value, { depth: 8, showHidden: true }),
    String(value),
    String(cause),
  ].join('\n');
}

/** The reason `promise` rejects with; throws if it resolves instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}
