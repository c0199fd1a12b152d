import { channel } from 'node:diagnostics_channel';

/** Best-effort failures (a sweep that failed, a rollback to retry later) go here. */
const errorChannel = channel('dlock:error');
/** `{ gid, action, detail }` for what recovery did (an orphan rolled back, a heuristic outcome). */
export const txChannel = channel('dlock:tx');

export function reportError(where: string, error: unknown, gid?: string): void {
  if (errorChannel.hasSubscribers) errorChannel.publish({ where: `tx:${where}`, gid, error });
}

export function reportEvent(message: () => object): void {
  if (txChannel.hasSubscribers) txChannel.publish(message());
}
