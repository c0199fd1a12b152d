import { createRequire } from 'node:module';
import { maskCredentials } from '@dlock/lock-core';
import { UsageError } from './cli-error.js';
import { demoCommand } from './commands/demo.js';
import { electCommand } from './commands/elect.js';
import { idCommand } from './commands/id.js';
import { leaderCommand } from './commands/leader.js';
import { lsCommand } from './commands/ls.js';
import { releaseCommand } from './commands/release.js';
import { runCommand } from './commands/run.js';
import { schemaCommand } from './commands/schema.js';
import { statusCommand } from './commands/status.js';
import { txCommand } from './commands/tx.js';
import { demoWorkerCommand } from './demo/worker.js';
import { EXIT } from './exit-codes.js';
import { explainError } from './explain-error.js';
import { type Io, out, processIo, say } from './io.js';
import { usageErrorOf } from './parse-options.js';

export const mainHelp = `Usage: dlock COMMAND [options]

Run commands under a lock that works on one machine with nothing installed (an embedded SQLite
file) and across machines by changing one URL (Redis, MySQL, etcd).

Commands:
  run KEY -- CMD ARGS...   hold the lock KEY while CMD runs (like flock, etcdctl lock, consul lock)
    --limit N / --read / --write   at most N CMDs at once (a semaphore) / a read-write lock
  status KEY               who holds KEY (--limit N: the semaphore KEY, --rw: the read-write lock)
  elect NAME -- CMD ARGS...   run CMD while leader of the election NAME (like etcdctl elect)
  leader NAME [--watch]    who leads the election NAME (--watch: follow every change)
  ls [PREFIX] [--watch]    what is locked right now, by whom, until when (a live table)
  release KEY --force      delete KEY's lock whoever holds it (operator escape hatch)
  id snowflake|uuid7|uuid4 print new ids
  schema mysql://...       print (or --apply) the lock table MySQL needs
  demo                     watch worker processes share a file safely under one lock
  tx status GID | tx recover   inspect and recover @dlock/tx transactions (--log mysql://…)

The backend URL comes from --url, else $DLOCK_URL, else the embedded SQLite file that every
user on the host shares ($DLOCK_SQLITE_PATH, else /var/tmp/dlock/locks.db):
  sqlite:./locks.db   redis://host:6379   mysql://user:pass@host/db   etcd://host:2379

Run "dlock COMMAND --help" for a command's options and exit codes.`;

type Command = (argv: readonly string[], io: Io) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  run: runCommand,
  status: statusCommand,
  elect: electCommand,
  leader: leaderCommand,
  ls: lsCommand,
  release: releaseCommand,
  id: idCommand,
  schema: schemaCommand,
  demo: demoCommand,
  tx: txCommand,
  // Internal: one contender of `dlock demo`, started by it as a separate process.
  'demo-worker': demoWorkerCommand,
};

/** Runs one dlock invocation and resolves its exit code; never throws. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(io, mainHelp);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-v') {
    out(io, (createRequire(import.meta.url)('../package.json') as { version: string }).version);
    return EXIT.OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    say(io, `unknown command "${name}"; run "dlock --help" for the list`);
    return EXIT.USAGE;
  }
  try {
    return await command(rest, io);
  } catch (error) {
    // A command that called parseArgs itself: its ERR_PARSE_ARGS_* refusal in our words.
    const refusal = error instanceof UsageError ? error : usageErrorOf(error, name, rest);
    const usage = refusal
      ? { exitCode: refusal.exitCode, message: maskCredentials(refusal.message) }
      : explainError(error);
    say(
      io,
      `${usage.message}${usage.exitCode === EXIT.USAGE ? ` (see "dlock ${name} --help")` : ''}`,
    );
    return usage.exitCode;
  }
}
