import { parseArgs } from 'node:util';
import { UsageError } from '../cli-error.js';
import { describeHolder, holderJson } from '../describe-holder.js';
import { EXIT } from '../exit-codes.js';
import { type Io, out, toJson } from '../io.js';
import { resolveUrl } from '../open-client.js';
import { withClient } from './with-client.js';

export const statusHelp = `Usage: dlock status KEY [--url URL] [--json]

Show who holds the lock KEY: the holder's public id (host:pid:command for dlock run), its
fencing token, hold count and when its lease ends.

Options:
  --url URL    lock backend (default: $DLOCK_URL, else the embedded SQLite file)
  --json       print one JSON object: {"key","held","holder","count","fencingToken","expiresAt","expiresInMs"}
  -h, --help   show this help

Exit codes: 0 held, 1 free, 64 bad usage, 69 backend failed.`;

export async function statusCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, statusHelp);
    return EXIT.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError('usage: dlock status KEY [--url URL] [--json]');
  const key = positionals[0]!;
  return withClient(io, resolveUrl(values.url, io.env), values.json, async (client) => {
    const info = await client.inspect(key);
    if (values.json) out(io, toJson(holderJson(key, info)));
    else out(io, `${key}: ${describeHolder(info)}`);
    return info ? EXIT.OK : EXIT.NEGATIVE;
  });
}
