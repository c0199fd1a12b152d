import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Reentrancy scopes. `using` runs its callback inside a frame that records which key it holds as
 * which owner, for which client. A nested acquisition of the same key by the same client anywhere
 * inside that async call chain finds the frame and re-enters as the same owner. Frames are
 * immutable and chained, so sibling tasks started inside a callback share the outer scope's locks
 * (they run on its behalf) but never locks that one of them took later on its own.
 */
export interface ReentryFrame {
  readonly client: object;
  readonly key: string;
  readonly owner: string;
  readonly parent: ReentryFrame | undefined;
}

const storage = new AsyncLocalStorage<ReentryFrame>();

export function findReentryOwner(client: object, key: string): string | undefined {
  for (let frame = storage.getStore(); frame; frame = frame.parent) {
    if (frame.client === client && frame.key === key) return frame.owner;
  }
  return undefined;
}

export function runInFrame<T>(client: object, key: string, owner: string, fn: () => T): T {
  return storage.run({ client, key, owner, parent: storage.getStore() }, fn);
}

/** Runs `fn` as an unrelated task would: outside every reentrancy scope (used by the kit). */
export function outsideReentryScopes<T>(fn: () => T): T {
  return storage.exit(fn);
}
