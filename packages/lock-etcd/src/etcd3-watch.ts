/**
 * The driver's watches on etcd3's `WatchBuilder`, which resubscribes after a reconnect and
 * replays from the last revision it saw. A reconnect or a stream error tells the caller to
 * re-read (`onResync`), since events may have been missed.
 */
import type { IKeyValue, Watcher } from 'etcd3';
import type { ChangeHandlers, DeleteWatch, EtcdClientLike, WatchHandlers } from './driver.js';
import { reportError } from './report-error.js';

type Target = { readonly key: string } | { readonly prefix: string };

/** Deletions of one key or under a prefix. */
export async function watchDeletes(
  client: EtcdClientLike,
  target: Target,
  fromRevision: bigint | undefined,
  handlers: WatchHandlers,
): Promise<DeleteWatch> {
  const watcher = await open(client, target, fromRevision, true);
  watcher.on('delete', () => handlers.onDelete());
  return resyncing(watcher, () => handlers.onResync());
}

/** Puts and deletions of one key or under a prefix. */
export async function watchChanges(
  client: EtcdClientLike,
  target: Target,
  fromRevision: bigint | undefined,
  handlers: ChangeHandlers,
): Promise<DeleteWatch> {
  const watcher = await open(client, target, fromRevision, false);
  // etcd3's watcher already strips a namespace's prefix from the keys it reports.
  const name = (kv: IKeyValue) => kv.key.toString('utf8');
  watcher.on('put', (kv) =>
    handlers.onChange({
      type: 'put',
      key: name(kv),
      createRevision: BigInt(kv.create_revision),
      version: Number(kv.version),
    }),
  );
  watcher.on('delete', (kv) =>
    handlers.onChange({ type: 'delete', key: name(kv), createRevision: 0n, version: 0 }),
  );
  return resyncing(watcher, () => handlers.onResync());
}

function open(
  client: EtcdClientLike,
  target: Target,
  fromRevision: bigint | undefined,
  deletesOnly: boolean,
): Promise<Watcher> {
  let builder = client.watch();
  builder = 'key' in target ? builder.key(target.key) : builder.prefix(target.prefix);
  if (deletesOnly) builder = builder.only('delete');
  if (fromRevision !== undefined) builder = builder.startRevision(String(fromRevision));
  return builder.create();
}

/** Calls `onResync` after a reconnect or a stream error; the handle cancels the watch. */
function resyncing(watcher: Watcher, onResync: () => void): DeleteWatch {
  let disconnected = false;
  watcher.on('disconnected', () => {
    disconnected = true;
  });
  watcher.on('connected', () => {
    if (!disconnected) return;
    disconnected = false;
    onResync();
  });
  // A non-recoverable watch error (a compacted start revision, a permission change): the stream is
  // gone, so the caller must re-read rather than wait for an event that will not come.
  watcher.on('error', () => onResync());
  let closing: Promise<void> | undefined;
  return {
    close() {
      // A cancel that fails leaves a watch etcd3 drops with its stream: nothing to undo.
      closing ??= watcher
        .cancel()
        .catch((error: unknown) => reportError('watch', undefined, error));
      return closing;
    },
  };
}
