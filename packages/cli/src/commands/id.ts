import { createSnowflake, IdGenArgumentError, TWITTER_EPOCH, uuidv4, uuidv7 } from '@dlock/idgen';
import { UsageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { type Io, out, toJson } from '../io.js';
import { parseOptions } from '../parse-options.js';

export const idHelp = `Usage: dlock id snowflake|uuid7|uuid4 [-n N] [--worker W --datacenter D] [--epoch DATE] [--json]

Print new ids, one per line.
  snowflake  64-bit time-ordered integer (41-bit ms timestamp, 5-bit datacenter, 5-bit worker,
             12-bit sequence). Unique only if no two running generators share worker and
             datacenter: give each machine or process its own.
  uuid7      RFC 9562 time-ordered UUID (sorts by creation time)
  uuid4      random UUID

Options:
  -n, --count N       how many ids (default: 1, at most 1000000)
  --worker W          snowflake worker id, 0-31 (default: 0)
  --datacenter D      snowflake datacenter id, 0-31 (default: 0)
  --epoch DATE        snowflake epoch, ISO date or ms since 1970 (default: 2010-11-04T01:42:54.657Z,
                      Twitter's, the same as @dlock/idgen's createSnowflake default)
  --json              print {"kind","ids":[...]} (snowflakes as decimal strings)
  -h, --help          show this help`;

const MAX_COUNT = 1_000_000;

export async function idCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions('id', {
    args: [...argv],
    allowPositionals: true,
    options: {
      count: { type: 'string', short: 'n', default: '1' },
      worker: { type: 'string', default: '0' },
      datacenter: { type: 'string', default: '0' },
      epoch: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, idHelp);
    return EXIT.OK;
  }
  const kind = positionals[0];
  if (positionals.length !== 1 || (kind !== 'snowflake' && kind !== 'uuid7' && kind !== 'uuid4')) {
    throw new UsageError('usage: dlock id snowflake|uuid7|uuid4 [-n N]');
  }
  const count = integer('--count', values.count, 1, MAX_COUNT);
  let next: () => string;
  if (kind === 'snowflake') {
    try {
      const snowflake = createSnowflake({
        // The library's default when not given, so both make the same ids.
        epoch: values.epoch === undefined ? TWITTER_EPOCH : parseEpoch(values.epoch),
        workerId: integer('--worker', values.worker, 0, 31),
        datacenterId: integer('--datacenter', values.datacenter, 0, 31),
      });
      next = () => snowflake.nextIdString();
    } catch (error) {
      if (IdGenArgumentError.isInstance(error)) throw new UsageError(error.message);
      throw error;
    }
  } else {
    if (values.worker !== '0' || values.datacenter !== '0' || values.epoch !== undefined) {
      throw new UsageError('--worker, --datacenter and --epoch apply to snowflake ids only');
    }
    next = kind === 'uuid7' ? uuidv7 : uuidv4;
  }
  const ids = Array.from({ length: count }, next);
  if (values.json) out(io, toJson({ kind, ids }));
  else io.stdout.write(`${ids.join('\n')}\n`);
  return EXIT.OK;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${flag} takes a whole number from ${min} to ${max}; got "${text}"`);
  }
  return value;
}

function parseEpoch(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value)) {
    throw new UsageError(`--epoch takes an ISO date or milliseconds since 1970; got "${text}"`);
  }
  return value;
}
