import { UsageError } from './cli-error.js';

/**
 * Refuses `memory:`: its locks live inside one process, and every dlock command is a process of
 * its own, so a memory lock would exclude nobody (two `dlock run` would both "hold" it).
 */
export function refuseProcessLocal(url: URL): void {
  if (url.protocol !== 'memory:') return;
  throw new UsageError(
    'memory: keeps locks inside one process, and every dlock command is a process of its own, so no other process would see the lock; use sqlite:PATH on one machine (the default), or redis://, mysql://, etcd:// across machines',
  );
}
