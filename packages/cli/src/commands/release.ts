import { UsageError } from '../cli-error.js';
import { describeHolder, holderJson, printable } from '../describe-holder.js';
import { EXIT } from '../exit-codes.js';
import { type Io, out, say, toJson } from '../io.js';
import {
  CONNECTION_OPTIONS,
  connectionHelp,
  connectionUrl,
  credentialsHelp,
} from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import { withClient } from './with-client.js';

export const releaseHelp = `Usage: dlock release KEY --force [--url URL] [--json]

Operator escape hatch: delete the lock KEY whoever holds it. The holder is NOT stopped: it
keeps running until its next renewal fails (dlock run then signals its command per --on-lost),
so for a moment two processes may both act as the owner. Fencing tokens keep increasing, so a
resource that checks them refuses the old holder's writes. Use it for a holder that is stuck,
never to "fix" normal contention: wait for it, or let its lease expire.

Options:
  --force                required: confirms you mean it
${connectionHelp}
  --json                 print one JSON object: {"key","released","previous"}
  -h, --help             show this help

${credentialsHelp}

Exit codes: the answers are 0 a lock was deleted and 1 the key was free (nothing deleted); failures: 64 bad
usage (or the backend cannot force-release), 66 a credentials or certificate file cannot be
read, 69 backend failed, 70 internal error.`;

export async function releaseCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions('release', {
    args: [...argv],
    allowPositionals: true,
    options: {
      force: { type: 'boolean', default: false },
      ...CONNECTION_OPTIONS,
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, releaseHelp);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new UsageError('usage: dlock release KEY --force');
  if (!values.force) {
    throw new UsageError(
      'dlock release frees a lock that another process holds, which then runs unprotected until it notices; add --force if that is what you want',
    );
  }
  const key = positionals[0]!;
  return withClient(io, connectionUrl(values, io.env), values.json, async (client) => {
    const previous = await client.inspect(key);
    if (previous) {
      say(
        io,
        `warning: force-releasing "${printable(key)}" (${describeHolder(previous)}); the holder keeps running until its next renewal fails`,
      );
    }
    // Even when it looked free: a holder may have taken it since.
    const released = await client.forceRelease(key);
    if (values.json) out(io, toJson({ key, released, previous: holderJson(key, previous) }));
    else if (released) out(io, `${printable(key)}: released`);
    else if (previous) {
      out(io, `${printable(key)}: was free by then (its holder released it, or its lease ran out)`);
    } else out(io, `${printable(key)}: was free, nothing to release`);
    return released ? EXIT.OK : EXIT.NEGATIVE;
  });
}
