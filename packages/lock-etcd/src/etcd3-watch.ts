import type { EtcdClientLike } from './client-types.js';
import type { DeleteWatch, WatchHandlers } from './driver.js';

/**
 * Deletions of one key or under a prefix, on etcd3's `WatchBuilder` (which resubscribes after a
 * reconnect and replays from the last revision it saw); a reconnect or a stream error tells the
 * caller to re-read, since events may have been missed.
 */
export async function watchDeletes(
  client: EtcdClientLike,
  target: { readonly key: string } | { readonly prefix: string },
  fromRevision: bigint | undefined,
  handlers: WatchHandlers,
): Promise<DeleteWatch> {
  let builder = client.watch();
  builder = 'key' in target ? builder.key(target.key) : builder.prefix(target.prefix);
  builder = builder.only('delete');
  if (fromRevision !== undefined) builder = builder.startRevision(String(fromRevision));
  const watcher = await builder.create();
  let disconnected = false;
  watcher.on('delete', () => handlers.onDelete());
  watcher.on('disconnected', () => {
    disconnected = true;
  });
  watcher.on('connected', () => {
    if (!disconnected) return;
    disconnected = false;
    handlers.onResync();
  });
  // A non-recoverable watch error (a compacted start revision, a permission change): the stream is
  // gone, so the caller must re-read rather than wait for an event that will not come.
  watcher.on('error', () => handlers.onResync());
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= watcher.cancel().catch(() => {});
      return closing;
    },
  };
}
