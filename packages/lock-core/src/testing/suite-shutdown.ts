import assert from 'node:assert/strict';
import { createLockClient } from '../client.js';
import { LockLostError } from '../errors.js';
import { eventually, type Kit, sleep } from './kit.js';

/** [Semantics 8](../../../../docs/guarantees.md#semantics-every-backend-promises): close() frees what the client owns and leaves nothing running. */
export function shutdownSuite(kit: Kit): void {
  const { it } = kit.runner;

  it(
    'close() releases held locks, stops the watchdog and watches, and leaves no active handles',
    async () => {
      // With backends that own their connections, everything both open after this point must be
      // gone once both are closed. Otherwise the backends share the test file's driver, and the
      // baseline is taken once its lazily opened connections are open.
      const before = resourceCounts();
      const owned = await kit.ownedBackend();
      const other = owned
        ? createLockClient((await kit.ownedBackend())!, { ttlMs: kit.ttl })
        : await kit.client();
      const backend = owned ?? (await kit.backend());
      await backend.inspect(kit.key('warm-up'));
      await sleep(10);
      const baseline = owned ? before : resourceCounts();
      const client = createLockClient(backend, { ttlMs: kit.ttl });
      const key = kit.key('shutdown');
      const lock = await client.acquire(key, { autoExtend: true });
      const blocker = await other.acquire(kit.key('shutdown-blocked'), { autoExtend: true });
      const waiting = client.acquire(kit.key('shutdown-blocked')).catch((e: unknown) => e);
      await sleep(kit.ttl);
      await client.close();
      await client.close();
      assert.ok(LockLostError.isInstance(lock.signal.reason));
      assert.equal((lock.signal.reason as LockLostError).reason, 'client-closed');
      assert.equal(((await waiting) as { code?: string }).code, 'DLOCK_CLOSED');
      const next = await other.tryAcquire(key);
      assert.ok(next, 'close() should release held locks');
      await next.release();
      await blocker.release();
      if (owned) await other.close();
      await eventually(
        'active handles back to the baseline',
        () => exceeding(baseline, resourceCounts()).length === 0,
        2_000,
      ).catch(() =>
        assert.fail(`leaked: ${exceeding(baseline, resourceCounts()).join(', ')} (${sockets()})`),
      );
    },
    kit.timeoutMs,
  );
}

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo())
    counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/** The open sockets' ports, so that a leak names the server it talks to. */
function sockets(): string {
  const handles = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles;
  const open = (handles?.call(process) ?? []).filter(
    (h): h is { localPort?: number; remotePort?: number } =>
      (h.constructor.name === 'Socket' || h.constructor.name === 'TLSSocket') &&
      (h as { remotePort?: number }).remotePort !== undefined,
  );
  return `sockets: ${open.map((h) => `${h.localPort}->${h.remotePort}`).join(', ') || 'none'}`;
}

function exceeding(baseline: Map<string, number>, now: Map<string, number>): string[] {
  return [...now]
    .filter(([name, n]) => n > (baseline.get(name) ?? 0))
    .map(([name, n]) => `${name} x${n - (baseline.get(name) ?? 0)}`);
}
