import { monotonicNow } from '../clock.js';
import { granted, type Interrupt, settle } from './interrupt.js';
import type { AcquireHost, AcquireParams, Attempt, Waiter } from './line.js';

/**
 * The `native` strategy: the head of the key's line waits on the server (`waitAcquire`: etcd's
 * revision queue, MySQL `GET_LOCK` with a timeout) until the grant or the deadline. The server
 * orders the waiters of all processes; this client's line makes sure only one of its calls per
 * key is inside `waitAcquire` at a time, so a backend whose wait ties up a connection needs no
 * line of its own. When the head is granted the next waiter starts its server wait at once.
 */
export async function nativeTurn(waiter: Waiter): Promise<Attempt> {
  return granted(await waitNatively(waiter.host, waiter.p, waiter.interrupt), waiter.p);
}

/** One `waitAcquire` call, bounded by the interrupt's deadline and cut short by its signal. */
export function waitNatively(
  host: AcquireHost,
  p: AcquireParams,
  interrupt: Interrupt,
): Promise<Attempt> {
  const start = monotonicNow();
  const timeoutMs = Math.max(0, interrupt.deadline - start);
  const pending = host.backend.waitAcquire!({ ...p, timeoutMs, signal: interrupt.signal });
  return settle(host, p, interrupt, pending, start);
}
