import { UsageError } from '../cli-error.js';
import { describeHolder, holderJson, printable } from '../describe-holder.js';
import { EXIT } from '../exit-codes.js';
import { type Io, out, toJson } from '../io.js';
import {
  CONNECTION_OPTIONS,
  connectionHelp,
  connectionUrl,
  credentialsHelp,
} from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import { withClient } from './with-client.js';

export const statusHelp = `Usage: dlock status KEY [--url URL] [--json]

Show who holds the lock KEY: the holder's public id (host:pid:command for dlock run), its
fencing token, hold count and when its lease ends.

Options:
${connectionHelp}
  --json                 print one JSON object: {"key","held","holder","count","fencingToken","expiresAt","expiresInMs"}
  -h, --help             show this help

${credentialsHelp}

Exit codes: the answers are 0 held and 1 free; every failure has its own code, so a script
never reads one as "free": 64 bad usage (bad URL included), 66 a credentials or certificate
file cannot be read, 69 the backend failed or refused (credentials, TLS), 70 internal error.`;

export async function statusCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions('status', {
    args: [...argv],
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
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
  return withClient(io, connectionUrl(values, io.env), values.json, async (client) => {
    const info = await client.inspect(key);
    if (values.json) out(io, toJson(holderJson(key, info)));
    else out(io, `${printable(key)}: ${describeHolder(info)}`);
    return info ? EXIT.OK : EXIT.NEGATIVE;
  });
}
