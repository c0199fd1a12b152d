import { hostname } from 'node:os';
import type { Election, LeaderInfo } from '@dlock/lock-core';
import { UsageError } from '../cli-error.js';
import { printable } from '../describe-holder.js';
import { describeLeader, leaderJson } from '../describe-leader.js';
import { EXIT } from '../exit-codes.js';
import { type Io, out, toJson } from '../io.js';
import { COMMON_OPTIONS, connectionHelp, connectionUrl, credentialsHelp } from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import { sharedRefusal } from './run-target.js';
import { withClient } from './with-client.js';

export const leaderHelp = `Usage: dlock leader NAME [--watch] [--url URL] [--json]

Show the leader of the election NAME (as "dlock elect NAME" campaigns in it): the value it
proclaims, its term (strictly increasing per NAME: a fencing token), its holder's public id
(host:pid:command for dlock elect) and when its lease ends; or "no leader". With --watch,
print the leader now and one line after every change (a new leader, a new value, no leader),
each after the local time it was seen (HH:MM:SS), never going back in term, until Ctrl-C.

Options:
${connectionHelp}
  -w, --watch            follow the election: one line per change until Ctrl-C (or SIGTERM)
  --json                 print one JSON object (with --watch, one per line):
                         {"name","leader":true,"value","term","holder","expiresAt","expiresInMs"}
                         or {"name","leader":false}
  -h, --help             show this help

${credentialsHelp}

Exit codes: the answers are 0 there is a leader and 1 there is none (--watch: 0 when stopped
with Ctrl-C or SIGTERM); every failure has its own code, so a script never reads one as "no
leader": 64 bad usage (bad URL included; also: the backend has no leader elections), 66 a
credentials or certificate file cannot be read, 69 the backend failed or refused (credentials,
TLS), 70 internal error.`;

export async function leaderCommand(
  argv: readonly string[],
  io: Io,
  /** Ends `--watch` (tests); Ctrl-C (SIGINT) and SIGTERM do otherwise. */
  stop?: AbortSignal,
): Promise<number> {
  const { values, positionals } = parseOptions('leader', {
    args: [...argv],
    allowPositionals: true,
    options: {
      watch: { type: 'boolean', short: 'w', default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (values.help) {
    out(io, leaderHelp);
    return EXIT.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError('usage: dlock leader NAME [--watch] [--url URL] [--json]');
  const name = positionals[0]!;
  // With --watch each line says when the change was seen (local time), as a log line would.
  const print = (info: LeaderInfo | null): void =>
    out(
      io,
      values.json
        ? toJson(leaderJson(name, info))
        : `${values.watch ? `${new Date().toTimeString().slice(0, 8)} ` : ''}${printable(name)}: ${describeLeader(info)}`,
    );
  return withClient(io, connectionUrl(values, io.env), values.json, async (client) => {
    let election: Election;
    try {
      // An observer never campaigns: its value is never proclaimed.
      election = client.election(name, { value: hostname() });
    } catch (error) {
      // No elections on this backend: bad usage (64), as status says of semaphores.
      throw sharedRefusal(error, name) ?? error;
    }
    if (!values.watch) {
      const info = await election.leader();
      print(info);
      return info ? EXIT.OK : EXIT.NEGATIVE;
    }
    const stopper = new AbortController();
    const onSignal = () => stopper.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const signal = stop ? AbortSignal.any([stop, stopper.signal]) : stopper.signal;
    try {
      let last: string | undefined;
      for await (const info of election.observe({ signal })) {
        // A change the line would not show (only the lease's end moved) is not a new line.
        const shown = info ? toJson([info.term, info.value, info.holder]) : 'none';
        if (shown !== last) print(info);
        last = shown;
      }
    } catch (error) {
      // Stopping may end the iteration with the abort's reason: that is the normal end.
      if (!signal.aborted) throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return EXIT.OK;
  });
}
