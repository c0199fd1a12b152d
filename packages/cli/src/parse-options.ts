import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './cli-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs` for one dlock command, with its refusals as our own usage errors (exit 64): Node's
 * messages ("Option '--ttl' argument is ambiguous. Did you forget …") name neither the command
 * nor what it takes.
 */
export function parseOptions<T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw usageErrorOf(error, command, config.args ?? [], config.options) ?? error;
  }
}

/** `--url URL`, `-h/--help`: how the refusals list a command's options. */
function describeOptions(options: Options): string {
  return Object.entries(options)
    .map(
      ([name, o]) =>
        `${o.short ? `-${o.short}/` : ''}--${name}${o.type === 'string' ? ' VALUE' : ''}`,
    )
    .join(', ');
}

/**
 * The usage error for a `parseArgs` refusal (codes `ERR_PARSE_ARGS_*`), or undefined for any
 * other error. `args` and `options` make the message precise; without them (a command that
 * called `parseArgs` itself) it still names the option and the command.
 */
export function usageErrorOf(
  error: unknown,
  command: string,
  args: readonly string[] = [],
  options?: Options,
): UsageError | undefined {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) return undefined;
  const text = typeof message === 'string' ? message : '';
  // Node quotes the option or argument it refuses: 'Unknown option '--tt'', 'Option '--ttl <value>' …'.
  const quoted = /'([^']*)'/.exec(text)?.[1] ?? '';
  // '-n, --count <value>': the long name reads best; the args hold what was typed.
  const named = /--[^\s,]+/.exec(quoted)?.[0] ?? quoted.split(/[\s,]/)[0] ?? '';
  // A short name ('-n') by its long one, which takes the --name=VALUE form.
  const long = Object.entries(options ?? {}).find(([, o]) => `-${o.short}` === named)?.[0];
  const option = long === undefined ? named : `--${long}`;
  const known = options ? `; it takes ${describeOptions(options)}` : '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`dlock ${command} has no option ${option}${known}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`dlock ${command} takes no argument "${quoted}"${known}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      if (text.includes('does not take an argument')) {
        return new UsageError(`${option} is a switch and takes no value (write just ${option})`);
      }
      const typed = args.findIndex(
        (a) => a === option || (a !== '' && quoted.split(/[\s,]+/).includes(a)),
      );
      const next = typed === -1 ? undefined : args[typed + 1];
      if (next?.startsWith('-')) {
        return new UsageError(
          `${option} needs a value, and "${next}" after it looks like an option; to pass "${next}" as the value write ${option}=${next}`,
        );
      }
      return new UsageError(`${option} needs a value (${option} VALUE)`);
    }
    default:
      return new UsageError(`dlock ${command}: ${text.split('\n')[0]}`);
  }
}
