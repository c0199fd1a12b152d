import { IdGenArgumentError } from './errors.js';
import { describe } from './validate.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * A table name quoted for SQL. Table names cannot be placeholders, so they are validated strictly
 * (letters, digits, underscore; optionally `schema.table`) and backtick-quoted.
 */
export function quoteTable(name: unknown, option = 'table'): string {
  const parts = typeof name === 'string' ? name.split('.') : [];
  if (parts.length === 0 || parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new IdGenArgumentError(
      `${option} must be an identifier like "id_tickets" or "schema.id_tickets" (letters, digits, _), got ${describe(name)}`,
    );
  }
  return parts.map((p) => `\`${p}\``).join('.');
}
