/**
 * One leader of the election failover bench (src/election.ts), as a process of its own so the
 * bench can SIGKILL it: connects to the URL in argv[2], campaigns in the election argv[3] with a
 * lease of argv[4] ms, prints `leader TERM` once it leads and then holds (the watchdog renewing)
 * until it is killed.
 *   node --import tsx src/election-leader.ts URL NAME TTL_MS
 */
import { connect } from '@dlock/lock-core';

const [url, name, ttl] = process.argv.slice(2);
const client = await connect(url!, { ttlMs: Number(ttl), clientId: `bench-leader:${process.pid}` });
const leadership = await client
  .election(name!, { value: `pid ${process.pid}` })
  .campaign({ waitTimeoutMs: 60_000 });
console.log(`leader ${leadership.term}`);
// Held until the bench kills this process; a loss is a failed round, said on stderr.
leadership.signal.addEventListener('abort', () => {
  console.error(`leadership lost: ${String(leadership.signal.reason)}`);
  process.exit(1);
});
setInterval(() => {}, 60_000);
