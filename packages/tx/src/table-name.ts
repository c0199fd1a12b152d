import { TxArgumentError } from './errors.js';

/**
 * Table names are identifiers and cannot be placeholders, so they are the one thing spliced into
 * SQL: validated strictly (optionally `database.table`), then backtick-quoted.
 */
const PART = /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/;

export function quoteTable(name: unknown): string {
  if (typeof name !== 'string') {
    throw new TxArgumentError(`table must be a string, got ${typeof name}`);
  }
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((part) => PART.test(part))) {
    throw new TxArgumentError(
      `table must be an identifier (letters, digits, _ and $, at most 64 characters, ` +
        `optionally "database.table"), got ${JSON.stringify(name)}`,
    );
  }
  return parts.map((part) => `\`${part}\``).join('.');
}
