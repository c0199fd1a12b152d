import { LockArgumentError } from '@dlock/lock-core';

/**
 * Table names are identifiers and cannot be placeholders, so they are the one thing spliced into
 * SQL. They are validated strictly (unquoted-identifier characters only, optionally
 * `database.table`) and then backtick-quoted, so no value can ever change the statement.
 */
const PART = /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/;

export function quoteTable(name: unknown): string {
  if (typeof name !== 'string') {
    throw new LockArgumentError(`table must be a string, got ${typeof name}`);
  }
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((part) => PART.test(part))) {
    throw new LockArgumentError(
      `table must be an identifier (letters, digits, _ and $, at most 64 characters, ` +
        `optionally "database.table"), got ${JSON.stringify(name)}`,
    );
  }
  return parts.map((part) => `\`${part}\``).join('.');
}
