import { hostname } from 'node:os';
import {
  type Election,
  type LeaderInfo,
  type Leadership,
  type LockClient,
  LockTimeoutError,
} from '@dlock/lock-core';
import { reportError } from '@dlock/lock-core/spi';
import { UsageError } from '../cli-error.js';
import { describeLeader, leaderJson } from '../describe-leader.js';
import { formatDuration } from '../durations.js';
import { EXIT } from '../exit-codes.js';
import { redact } from '../explain-error.js';
import { type Io, out } from '../io.js';
import { connectionHelp, credentialsHelp } from '../open-client.js';
import { parseOptions } from '../parse-options.js';
import {
  fail,
  LEASED_OPTIONS,
  type LeasedArgs,
  LeasedCommand,
  leasedArgs,
  type Report,
  splitCommand,
  waitLimit,
  withLeaseClient,
} from './leased-command.js';

export const electHelp = `Usage: dlock elect NAME [--value V] [options] -- COMMAND [ARGS...]

Campaign in the leader election NAME and run COMMAND while this dlock leads: across every
process and machine using the backend, at most one "dlock elect NAME" runs its COMMAND at a
time (like "etcdctl elect NAME PROPOSAL", with a command to run as the leader). dlock waits
until it leads (candidates take over in the order they started campaigning, where the backend
queues them), renews the leadership in the background (about every TTL/3) while COMMAND runs,
and resigns when COMMAND exits, so the next candidate leads at once. A dlock that dies leaves
the leadership to the next candidate after --ttl. "dlock leader NAME" shows who leads.
COMMAND gets DLOCK_ELECTION (NAME), DLOCK_TERM (the leader's term, strictly increasing per
NAME: a fencing token, also as DLOCK_FENCING_TOKEN) and DLOCK_LEADER_VALUE (--value) in its
environment. Signals (INT, TERM, HUP, QUIT, USR2) sent to dlock are forwarded to COMMAND's
process group. dlock exits with COMMAND's exit code.

COMMAND never outlives the leadership, under the same guardian as "dlock run": when the
leadership is lost (not renewed in time), COMMAND gets SIGTERM, then SIGKILL after 10s or
sooner, before the lease could run out (--on-lost kill: SIGKILL at once); if dlock dies (even
by SIGKILL) or stops renewing (stopped, frozen), the guardian ends COMMAND's process group
before the lease runs out, so no new leader ever starts while the old COMMAND still runs.
COMMAND has no controlling terminal (stdin/stdout/stderr are still yours). Not covered: the
guardian itself killed, processes that leave COMMAND's process group, and Windows (COMMAND
runs directly there and keeps running if dlock dies).

Options:
${connectionHelp}
  --value V              what this candidate proclaims while it leads, shown by "dlock leader"
                         (UTF-8, at most 4 KiB; default: HOST:PID)
  --pass-url             give COMMAND DLOCK_URL, DLOCK_PASSWORD and DLOCK_PASSWORD_FILE too
                         (by default it does not see the backend's URL and credentials)
  --ttl DURATION         leadership lease; a crashed dlock is deposed after this (default: 30s)
  --wait DURATION        how long to campaign; 0 = lead only if nobody does (default: forever)
  --on-lost ACTION       if the leadership is lost while COMMAND runs: term (SIGTERM, then
                         SIGKILL after 10s, or sooner so it is gone before the lease could run
                         out) or kill (SIGKILL) (default: term)
  --json                 report dlock's own events as JSON lines on stderr (stdout stays
                         COMMAND's): campaigning, elected, lost, resigned, timeout, error, guardian
  -h, --help             show this help

${credentialsHelp}

Durations: 500ms, 30s, 2m, 1h, or a bare number of seconds.

Exit codes: COMMAND's code (128+N if it died of signal N); 64 bad usage (also: the backend has
no leader elections); 66 a credentials or certificate file cannot be read; 69 backend failed;
70 internal error; 75 timed out campaigning (the leader is printed); 79 leadership lost (or not
renewed in time) while COMMAND ran; 126/127 COMMAND could not be run / not found.

Examples:
  dlock elect scheduler -- ./scheduler.sh                # one scheduler across the fleet
  dlock elect scheduler --value "$(hostname):8080" --ttl 10s -- ./scheduler.sh
  dlock elect scheduler --wait 0 -- ./scheduler.sh       # exit 75 at once if another leads
  dlock leader scheduler                                 # who leads now`;

/** The value's bound, as lock-core checks it: refused here before any I/O. */
const MAX_VALUE_BYTES = 4096;

interface ElectArgs extends LeasedArgs {
  key: string;
  value: string;
  command: string[];
}

export async function electCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseElectArgs(argv, io);
  if (args === 'help') {
    out(io, electHelp);
    return EXIT.OK;
  }
  return withLeaseClient('elect', args, io, (client, report) => lead(args, client, report));
}

function parseElectArgs(argv: readonly string[], io: Io): ElectArgs | 'help' {
  const { own, command } = splitCommand(argv);
  const { values, positionals } = parseOptions('elect', {
    args: own,
    allowPositionals: true,
    options: { ...LEASED_OPTIONS, value: { type: 'string' } },
  });
  if (values.help) return 'help';
  if (positionals.length === 0)
    throw new UsageError('dlock elect needs a NAME: dlock elect NAME -- COMMAND');
  if (positionals.length > 1 || command.length === 0) {
    throw new UsageError(
      'put the command after "--": dlock elect NAME [--value V] [options] -- COMMAND [ARGS...]',
    );
  }
  const value = values.value ?? `${hostname()}:${process.pid}`;
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES)
    throw new UsageError(`--value takes at most ${MAX_VALUE_BYTES} bytes of UTF-8`);
  return {
    // No --on-lost ignore: a COMMAND left running without the leadership is the split brain an
    // election exists to prevent.
    ...leasedArgs(values, io, ['term', 'kill']),
    key: positionals[0]!,
    value,
    command,
  };
}

async function lead(args: ElectArgs, client: LockClient, report: Report): Promise<number> {
  const name = args.key;
  let election: Election;
  try {
    election = client.election(name, { value: args.value, ttlMs: args.ttlMs });
  } catch (error) {
    return fail(report, error, args.url, name);
  }
  const what = `the leadership of "${name}"`;
  const leased = new LeasedCommand(
    { args, command: args.command, key: name, what, noun: what, verb: 'resigned', fields: {} },
    report,
  );
  // Until the command runs, a signal ends the wait; afterwards it is forwarded to the command.
  const interrupted = leased.listen();
  try {
    let leadership: Leadership;
    try {
      const current = await election.leader();
      if (current) {
        report(
          'campaigning',
          { ...leaderJson(name, current), waitMs: args.waitMs },
          `campaigning for "${name}" (${describeLeader(current)}), ${waitLimit(args.waitMs)}`,
        );
      }
      leadership = await election.campaign({
        waitTimeoutMs: args.waitMs,
        signal: interrupted.signal,
        onLost: (error) => leased.lost(error),
      });
    } catch (error) {
      if (interrupted.signal.aborted) return interrupted.exitCode();
      if (LockTimeoutError.isInstance(error)) {
        // Only to describe the leader in the timeout report: a failure leaves it undescribed.
        const current = await election.leader().catch((e: unknown): LeaderInfo | null => {
          reportError('elect: read the leader after a timeout', e, name);
          return null;
        });
        report(
          'timeout',
          { ...leaderJson(name, current), waitMs: args.waitMs },
          `gave up campaigning for "${name}" after ${formatDuration(args.waitMs)}: ${describeLeader(current)}`,
        );
        return EXIT.TIMEOUT;
      }
      return fail(report, error, args.url, name);
    }
    report(
      'elected',
      {
        name,
        key: name,
        term: leadership.term,
        value: leadership.value,
        url: redact(args.url),
        ttlMs: args.ttlMs,
      },
      `elected leader of "${name}" (term ${leadership.term})`,
    );
    return await leased.run(
      {
        get held() {
          return leadership.held;
        },
        get expiresAt() {
          return leadership.expiresAt;
        },
        release: () => leadership.resign(),
      },
      {
        ...args.env,
        DLOCK_ELECTION: name,
        DLOCK_TERM: String(leadership.term),
        DLOCK_FENCING_TOKEN: String(leadership.term),
        DLOCK_LEADER_VALUE: leadership.value,
      },
    );
  } finally {
    interrupted.stop();
  }
}
