/** Something to tell, once, that a watched signal aborted. */
export interface AbortTarget {
  fire(reason: unknown): void;
}

/**
 * The targets watching each signal: one target alone (the common case: a signal per call), or a
 * set of them (a signal shared by many waits, such as the client's close signal).
 */
const watching = new WeakMap<AbortSignal, AbortTarget | Set<AbortTarget>>();

/**
 * One `abort` listener per signal, however many waits watch it. Node's EventTarget walks its
 * listener list on every `addEventListener` and `removeEventListener` (to find duplicates), so a
 * listener per wait on a shared signal makes queueing n waits O(n^2); a set here is O(1) each.
 */
function onAbort(event: Event): void {
  const signal = event.target as AbortSignal;
  const entry = watching.get(signal);
  if (entry === undefined) return;
  watching.delete(signal);
  const reason = signal.reason;
  if (entry instanceof Set) for (const target of entry) target.fire(reason);
  else entry.fire(reason);
}

/** Tells `target` when `signal` aborts. The caller checks `signal.aborted` first. */
export function watchAbort(signal: AbortSignal, target: AbortTarget): void {
  const entry = watching.get(signal);
  if (entry === undefined) {
    watching.set(signal, target);
    signal.addEventListener('abort', onAbort, { once: true });
  } else if (entry instanceof Set) {
    entry.add(target);
  } else if (entry !== target) {
    watching.set(signal, new Set([entry, target]));
  }
}

/** Stops telling `target`; the signal's listener goes when its last target does. */
export function unwatchAbort(signal: AbortSignal, target: AbortTarget): void {
  const entry = watching.get(signal);
  if (entry === undefined) return;
  if (entry instanceof Set) {
    entry.delete(target);
    if (entry.size > 0) return;
  } else if (entry !== target) {
    return;
  }
  watching.delete(signal);
  signal.removeEventListener('abort', onAbort);
}
