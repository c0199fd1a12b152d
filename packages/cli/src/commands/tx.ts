import { channel } from 'node:diagnostics_channel';
import { parseArgs } from 'node:util';
import { maskCredentials } from '@dlock/lock-core';
import { reported } from '@dlock/lock-core/spi';
import type { MysqlPoolLike, RecoveryReport, TxStatus } from '@dlock/tx';
import { UsageError } from '../cli-error.js';
import { parseDuration } from '../durations.js';
import { EXIT } from '../exit-codes.js';
import { type Io, out, say, toJson } from '../io.js';
import { envPassword } from '../open-client.js';

export const txHelp = `Usage: dlock tx status GID [--log URL] [--json]
       dlock tx recover [--log URL] [--resource NAME=URL]... [--json]

Inspect and finish the distributed transactions of @dlock/tx from the command line.
  status GID   where the transaction GID stands in the coordinator log
  recover      one recovery sweep, as tm.recover() does: decided transactions are committed,
               undecided ones past their timeout rolled back, prepared XA branches of ours that
               the log does not know (past timeout + grace) rolled back and reported as orphans

Options:
  --log URL              the log's database: mysql://user@host:3306/db (default: $DLOCK_TX_URL)
  --table NAME           the log table (default: dlock_tx)
  --resource NAME=URL    an XA resource manager, under the name the application gives it in
                         createTransactionManager({ resources }); repeat for each (recover only)
  --gid-prefix P         the application's gidPrefix: only gids with it are touched (default: dlock)
  --timeout DURATION     the application's timeoutMs (default: 35s)
  --grace DURATION       the application's graceMs (default: 10s)
  --json                 status: the log record as one JSON object; recover: the report
  -h, --help             show this help

TCC branches and saga steps are code, not URLs: their transactions are finished by the
application's own recovery loop; this command reports them as still pending.

Credentials: as for every dlock command, $DLOCK_PASSWORD or $DLOCK_PASSWORD_FILE give the
password when a URL has none (applied to every URL without one).

Exit codes: status: 0 the log has the transaction, 1 it has none (an XA transaction is logged
only at its decision: none means never decided, rolled back). recover: 0 nothing left in doubt,
1 some transactions are still pending or need attention (listed). 64 bad usage, 66 a credentials
file cannot be read, 69 a database failed or could not be reached (also when a resource's
XA RECOVER failed during the sweep), 70 internal error.`;

const STATE_WORDS: Record<TxStatus['state'], string> = {
  active: 'active (phase one running, or its coordinator died before deciding)',
  committing: 'committing (decided: commit; phase two is being driven)',
  aborting: 'aborting (decided: roll back; phase two is being driven)',
  committed: 'committed',
  aborted: 'aborted (rolled back, cancelled or compensated)',
  'needs-attention': 'needs attention (a compensation kept failing; an operator must act)',
};

interface Pools {
  readonly log: MysqlPoolLike & { end(): Promise<void> };
  readonly resources: Record<string, MysqlPoolLike & { end(): Promise<void> }>;
}

export async function txCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      log: { type: 'string' },
      table: { type: 'string', default: 'dlock_tx' },
      resource: { type: 'string', multiple: true, default: [] },
      'gid-prefix': { type: 'string', default: 'dlock' },
      timeout: { type: 'string', default: '35s' },
      grace: { type: 'string', default: '10s' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(io, txHelp);
    return EXIT.OK;
  }
  const [sub, ...rest] = positionals;
  if (sub === 'status' ? rest.length !== 1 : sub !== 'recover' || rest.length !== 0) {
    throw new UsageError('usage: dlock tx status GID | dlock tx recover [--resource NAME=URL]...');
  }
  const logUrl = mysqlUrl('--log', values.log ?? (io.env.DLOCK_TX_URL || undefined), io.env);
  const resources: [string, URL][] = values.resource.map((spec) => {
    const at = spec.indexOf('=');
    const name = spec.slice(0, at);
    if (at <= 0 || !/^[\w-]+$/.test(name)) {
      throw new UsageError(`--resource takes NAME=mysql://…, got "${maskCredentials(spec)}"`);
    }
    return [name, mysqlUrl(`--resource ${name}`, spec.slice(at + 1), io.env)];
  });
  if (sub === 'status' && resources.length > 0) {
    throw new UsageError('--resource is for "dlock tx recover"; status reads the log only');
  }
  const timeoutMs = parseDuration('--timeout', values.timeout);
  const graceMs = parseDuration('--grace', values.grace);
  const tx = await import('@dlock/tx');
  const { createPool } = await import('mysql2/promise');
  const open = (url: URL) =>
    createPool({ uri: url.href, connectionLimit: 2, maxIdle: 0, connectTimeout: 5_000 });
  const pools: Pools = {
    log: open(logUrl),
    resources: Object.fromEntries(resources.map(([name, url]) => [name, open(url)])),
  };
  const problems: string[] = [];
  // Recovery reports what it could not do (a resource's XA RECOVER failed) on this channel.
  const onError = (message: unknown) => {
    const { where, gid, error } = message as { where: string; gid?: string; error: unknown };
    problems.push(
      `${where}${gid ? ` ${gid}` : ''}: ${maskCredentials(error instanceof Error ? error.message : String(error))}`,
    );
  };
  const errors = channel('dlock:error');
  errors.subscribe(onError);
  let tm: ReturnType<typeof tx.createTransactionManager> | undefined;
  try {
    tm = tx.createTransactionManager({
      log: tx.mysqlTxLog(pools.log, { table: values.table }),
      resources: pools.resources,
      recoveryIntervalMs: false,
      gidPrefix: values['gid-prefix'],
      timeoutMs,
      graceMs,
      // The CLI never runs a transaction: it only inspects and recovers.
      lastResourceCommit: false,
    });
    if (sub === 'status') {
      const status = await tm.status(rest[0]!);
      printStatus(io, rest[0]!, status, values.json);
      return status ? EXIT.OK : EXIT.NEGATIVE;
    }
    const report = await tm.recover();
    printReport(io, report, values.json, problems);
    if (problems.length > 0) return EXIT.BACKEND;
    return report.pending.length + report.needsAttention.length > 0 ? EXIT.NEGATIVE : EXIT.OK;
  } catch (error) {
    const explained = explainTxError(tx, error);
    if (values.json)
      out(io, toJson({ ok: false, error: explained.kind, message: explained.message }));
    else say(io, explained.message);
    return explained.exitCode;
  } finally {
    errors.unsubscribe(onError);
    await tm?.close();
    await Promise.all(
      [pools.log, ...Object.values(pools.resources)].map((p) =>
        p.end().catch(reported('tx: end a pool')),
      ),
    );
  }
}

/** A `mysql://` URL (with the environment's password when it has none), or a usage error. */
function mysqlUrl(what: string, text: string | undefined, env: NodeJS.ProcessEnv): URL {
  if (text === undefined) {
    throw new UsageError(
      `${what}: give the log's database as --log mysql://user@host:3306/db or $DLOCK_TX_URL`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `${what}: "${maskCredentials(text)}" is not a URL (mysql://user@host:3306/db)`,
    );
  }
  if (url.protocol !== 'mysql:' || url.pathname.length <= 1) {
    throw new UsageError(
      `${what}: "${maskCredentials(text)}" must be a mysql:// URL with a database (mysql://user@host:3306/db)`,
    );
  }
  const password = envPassword(env);
  if (password !== undefined && url.password === '') url.password = encodeURIComponent(password);
  return url;
}

function explainTxError(
  tx: typeof import('@dlock/tx'),
  error: unknown,
): { exitCode: number; message: string; kind: 'usage' | 'backend' | 'internal' } {
  if (tx.TxArgumentError.isInstance(error)) {
    return { exitCode: EXIT.USAGE, message: error.message, kind: 'usage' };
  }
  if (tx.TxBackendError.isInstance(error)) {
    const cause = error.cause as { code?: string; message?: string } | undefined;
    const detail = maskCredentials(cause?.message || error.message);
    const hint =
      cause?.code === 'ER_NO_SUCH_TABLE'
        ? ' (the log table does not exist there: check --log and --table)'
        : '';
    return {
      exitCode: EXIT.BACKEND,
      message: `cannot use the transaction log or a resource: ${detail}${hint}`,
      kind: 'backend',
    };
  }
  const code = (error as { code?: string } | undefined)?.code ?? '';
  if (/^(ECONN|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOST|ENET|ER_)/.test(code)) {
    return {
      exitCode: EXIT.BACKEND,
      message: `a database failed: ${maskCredentials((error as Error).message)} (${code})`,
      kind: 'backend',
    };
  }
  return {
    exitCode: EXIT.INTERNAL,
    message: `unexpected failure: ${maskCredentials(error instanceof Error ? error.message : String(error))}`,
    kind: 'internal',
  };
}

function printStatus(io: Io, gid: string, status: TxStatus | null, json: boolean): void {
  if (json) {
    out(io, toJson(status ? { found: true, ...status } : { gid, found: false }));
    return;
  }
  if (!status) {
    out(
      io,
      `${gid}: no record in the log (an XA transaction is logged only at its decision: never decided means rolled back, presumed abort)`,
    );
    return;
  }
  out(io, `${gid}: ${STATE_WORDS[status.state] ?? status.state}`);
  out(io, `  kind ${status.kind}, ${status.branches.length} branch(es):`);
  for (const b of status.branches) {
    const where = b.resource !== undefined ? ` on ${b.resource}` : '';
    const name = b.name !== undefined ? ` ${b.name}` : '';
    out(
      io,
      `    ${b.id}${name}${where}${b.local ? ' (local transaction, committed with the decision)' : ''}`,
    );
  }
  out(
    io,
    `  created ${new Date(status.createdAt).toISOString()}, updated ${new Date(status.updatedAt).toISOString()}`,
  );
  if (status.attempts > 0) out(io, `  recovery attempts: ${status.attempts}`);
  if (status.lastError) out(io, `  last error: ${status.lastError}`);
}

function printReport(io: Io, report: RecoveryReport, json: boolean, problems: string[]): void {
  if (json) {
    out(io, toJson({ ...report, problems }));
    return;
  }
  out(
    io,
    `recovery: ${report.committed.length} committed, ${report.aborted.length} rolled back, ${report.orphans.length} orphan(s) rolled back, ${report.pending.length} still pending, ${report.needsAttention.length} need attention`,
  );
  const list = (label: string, gids: readonly string[]) => {
    for (const gid of gids) out(io, `  ${label} ${gid}`);
  };
  list('committed', report.committed);
  list('rolled back', report.aborted);
  list('orphan rolled back', report.orphans);
  list('pending', report.pending);
  list('needs attention', report.needsAttention);
  for (const p of problems) say(io, `warning: ${p}`);
}
