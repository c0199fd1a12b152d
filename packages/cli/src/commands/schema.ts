import { UsageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { explainError, redact } from '../explain-error.js';
import { type Io, out, say } from '../io.js';
import { envPassword, resolveUrl } from '../open-client.js';
import { parseOptions } from '../parse-options.js';

export const schemaHelp = `Usage: dlock schema [URL] [--apply]

Print the DDL of the lock table a backend needs, or with --apply create it (if it is missing;
an existing table is never altered). Only MySQL/MariaDB has one: mysql://user@host/db, with
?table=NAME for a table other than dlock_locks. Redis, Redlock and etcd keep no schema, and the
SQLite backend creates its own table.

The URL is the argument, else --url, else $DLOCK_URL. --apply needs a user with the CREATE
privilege; the user that takes the locks then needs none (see the lock-mysql README, Security).

Options:
  --url URL      the backend (instead of the argument)
  --apply        create the table now, instead of printing the DDL
  -h, --help     show this help

Credentials: the password from $DLOCK_PASSWORD or $DLOCK_PASSWORD_FILE when the URL has none.

Exit codes: 0 printed or created, 64 bad usage (not a mysql:// URL), 66 a credentials file cannot
be read, 69 the server failed or refused.

Examples:
  dlock schema 'mysql://admin@db.internal/app' > migrations/001-dlock.sql
  DLOCK_PASSWORD_FILE=/run/secrets/db dlock schema 'mysql://admin@db.internal/app?table=locks' --apply`;

export async function schemaCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions('schema', {
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      apply: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, schemaHelp);
    return EXIT.OK;
  }
  if (positionals.length > 1 || (positionals.length === 1 && values.url !== undefined)) {
    throw new UsageError('usage: dlock schema [URL] [--apply] (give the URL once)');
  }
  const text = positionals[0] ?? resolveUrl(values.url, io.env);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a URL; dlock schema takes mysql://user@host/db`);
  }
  if (url.protocol !== 'mysql:') {
    throw new UsageError(
      `only MySQL/MariaDB needs a lock table (mysql://user@host/db); ${url.protocol} keeps no schema dlock must create`,
    );
  }
  const mysql = await import('@dlock/lock-mysql');
  const table = url.searchParams.get('table') ?? 'dlock_locks';
  let ddl: string;
  try {
    ddl = mysql.schemaSql(table);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!values.apply) {
    out(io, `${ddl};`);
    return EXIT.OK;
  }
  const password = envPassword(io.env);
  if (password !== undefined && url.password === '') url.password = encodeURIComponent(password);
  try {
    await mysql.ensureSchema(url);
  } catch (error) {
    const explained = explainError(error, url.href);
    say(io, explained.message);
    return explained.exitCode;
  }
  say(io, `the lock table ${table} exists on ${redact(url.href)}`);
  return EXIT.OK;
}
