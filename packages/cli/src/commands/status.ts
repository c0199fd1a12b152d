import { UsageError } from '../cli-error.js';
import { describeHolder, holderJson, printable } from '../describe-holder.js';
import {
  describeReadWrite,
  describeSemaphore,
  readWriteJson,
  semaphoreJson,
} from '../describe-shared.js';
import { EXIT } from '../exit-codes.js';
import { type Io, out, toJson } from '../io.js';
import {
  CONNECTION_OPTIONS,
  connectionHelp,
  connectionUrl,
  credentialsHelp,
} from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import { parseMode } from './run-mode.js';
import { sharedRefusal } from './run-target.js';
import { withClient } from './with-client.js';

export const statusHelp = `Usage: dlock status KEY [--limit N | --rw] [--url URL] [--json]

Show who holds the lock KEY: the holder's public id (host:pid:command for dlock run), its
fencing token, hold count and when its lease ends. With --limit N, the semaphore KEY instead
(as "dlock run KEY --limit N" takes it): its limit, the permits available, and each holder with
its permits, fencing token and lease end. With --rw, the read-write lock KEY (as "dlock run KEY
--read/--write" take it): its writer and its readers. Waiters are shown where the backend
counts them.

Options:
${connectionHelp}
  --limit N              show the semaphore KEY; N is its size, shown while nobody holds or
                         waits for it (otherwise the limit stored on the server is shown)
  --rw                   show the read-write lock KEY
  --json                 print one JSON object:
                         lock: {"key","held","holder","count","fencingToken","expiresAt","expiresInMs"}
                         --limit: {"key","kind":"semaphore","held","limit","available","holders":[LEASE],"waiters"}
                         --rw: {"key","kind":"read-write","held","writer":LEASE|null,"readers":[LEASE],"waiters"}
                         LEASE: {"holder","permits","count","fencingToken","expiresAt","expiresInMs"};
                         "waiters" only where the backend counts them
  -h, --help             show this help

${credentialsHelp}

Exit codes: the answers are 0 held (by anyone, in any mode) and 1 free; every failure has its own code, so a script
never reads one as "free": 64 bad usage (bad URL included; also: the backend has no
semaphores or read-write locks), 66 a credentials or certificate
file cannot be read, 69 the backend failed or refused (credentials, TLS), 70 internal error.`;

export async function statusCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions('status', {
    args: [...argv],
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      limit: { type: 'string' },
      rw: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, statusHelp);
    return EXIT.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError('usage: dlock status KEY [--limit N | --rw] [--url URL] [--json]');
  if (values.limit !== undefined && values.rw) {
    throw new UsageError(
      '--limit and --rw cannot be combined: --limit N shows the semaphore KEY, --rw the read-write lock KEY',
    );
  }
  const key = positionals[0]!;
  // Checked before connecting, as run checks it: the same words for the same mistake.
  const mode = values.limit === undefined ? undefined : parseMode({ limit: values.limit });
  const limit = mode?.kind === 'semaphore' ? mode.limit : undefined;
  return withClient(io, connectionUrl(values, io.env), values.json, async (client) => {
    try {
      if (limit !== undefined) {
        const info = await client.semaphore(key, { limit }).inspect();
        print(io, values.json, semaphoreJson(info), describeSemaphore(info, limit));
        return info.holders.length > 0 ? EXIT.OK : EXIT.NEGATIVE;
      }
      if (values.rw) {
        const info = await client.readWriteLock(key).inspect();
        print(io, values.json, readWriteJson(info), describeReadWrite(info));
        return info.writer !== null || info.readers.length > 0 ? EXIT.OK : EXIT.NEGATIVE;
      }
    } catch (error) {
      throw sharedRefusal(error, key) ?? error;
    }
    const info = await client.inspect(key);
    print(io, values.json, holderJson(key, info), [`${printable(key)}: ${describeHolder(info)}`]);
    return info ? EXIT.OK : EXIT.NEGATIVE;
  });
}

function print(io: Io, json: boolean, object: Record<string, unknown>, lines: string[]): void {
  if (json) out(io, toJson(object));
  else for (const line of lines) out(io, line);
}
