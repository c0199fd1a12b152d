/**
 * Keeping secrets out of everything dlock lets escape: error messages, `cause` chains and
 * diagnostics payloads. Drivers attach what they sent to their errors (ioredis `command.args`
 * with an AUTH password or an owner token, mysql2 `sql` with bound values inlined, gRPC
 * `metadata` with an auth token), and any JSON logger or `util.inspect` prints it. So a driver
 * error never leaves dlock as it is: {@link redactDriverError} copies the fields that say what
 * went wrong and drops the rest.
 */

const BRAND = Symbol.for('@dlock/lock-core/error');

/**
 * The fields a safe copy keeps: what failed and where, never what was sent. `command` is kept
 * as its name only.
 */
const KEPT_FIELDS = [
  'code',
  'errno',
  'syscall',
  'address',
  'port',
  'host',
  'hostname',
  'node',
  'fatal',
  'sqlState',
  'sqlMessage',
  'details',
  'reason',
] as const;

/** How deep a cause chain is copied; deeper links are cut (a cycle must not hang us). */
const MAX_DEPTH = 8;

/**
 * Masks credentials in free text: the user info of URLs (`redis://alice:pw@host` becomes
 * `redis://alice:***@host`, `redis://:pw@host` becomes `redis://:***@host`) and `password=`,
 * `pass=`, `pwd=`, `token=` and `secret=` query parameters. Unparsable URLs are masked too,
 * since this works on the text, not on a parsed URL.
 */
export function maskCredentials(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@?#"']*:)[^\s/"']*@/gi, '$1***@')
    .replace(/((?:^|[?&;\s,"'])(?:password|pass|pwd|token|secret|auth)=)[^&\s#"',;]*/gi, '$1***');
}

function branded(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true
  );
}

/**
 * A copy of a driver error that is safe to log: the same prototype (so `instanceof` and `name`
 * still answer), the message and stack with credentials masked, the diagnostic fields in
 * `KEPT_FIELDS`, `command` reduced to `{ name }`, and the `cause` and `errors` (AggregateError)
 * copied the same way. Everything else (command arguments, SQL text, bound values, gRPC
 * metadata) is dropped. dlock's own errors pass unchanged: their causes were redacted when they
 * were made. Anything that is not an object becomes a string with credentials masked.
 */
export function redactDriverError(error: unknown): unknown {
  return copy(error, 0);
}

function copy(error: unknown, depth: number): unknown {
  if (error === undefined || error === null) return error;
  if (typeof error !== 'object') {
    return typeof error === 'string' ? maskCredentials(error) : error;
  }
  if (branded(error)) return error;
  if (depth >= MAX_DEPTH) return undefined;
  const source = error as Record<string, unknown>;
  const safe = Object.create(Object.getPrototypeOf(error) ?? Error.prototype) as Record<
    string,
    unknown
  >;
  const define = (name: string, value: unknown): void => {
    Object.defineProperty(safe, name, { value, writable: true, configurable: true });
  };
  const message = typeof source.message === 'string' ? source.message : String(error);
  define('message', maskCredentials(message));
  if (Object.hasOwn(source, 'name') && typeof source.name === 'string') define('name', source.name);
  if (typeof source.stack === 'string') define('stack', maskCredentials(source.stack));
  for (const field of KEPT_FIELDS) {
    const value = source[field];
    if (value === undefined) continue;
    // Only plain values: an object here could carry anything.
    if (typeof value === 'string') {
      Object.defineProperty(safe, field, {
        value: maskCredentials(value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      Object.defineProperty(safe, field, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  const command = source.command as { name?: unknown } | undefined;
  if (typeof command === 'object' && command !== null && typeof command.name === 'string') {
    Object.defineProperty(safe, 'command', {
      value: { name: command.name },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  if (source.cause !== undefined) define('cause', copy(source.cause, depth + 1));
  if (Array.isArray(source.errors)) {
    define(
      'errors',
      source.errors.map((e) => copy(e, depth + 1)),
    );
  }
  return safe;
}
