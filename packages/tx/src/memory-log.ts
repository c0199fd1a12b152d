import { OPEN_STATES, type TxLog, type TxRecord, type TxRecordPatch, type TxState } from './log.js';

/**
 * An in-process log for tests and demos: not durable. Share one instance between managers in
 * one process to simulate several coordinators over one log.
 */
export function memoryTxLog(): TxLog & { readonly records: ReadonlyMap<string, TxRecord> } {
  const records = new Map<string, TxRecord>();
  const copy = (r: TxRecord): TxRecord => structuredClone(r);
  return {
    records,
    async create(record) {
      if (records.has(record.gid)) return false;
      records.set(record.gid, copy(record));
      return true;
    },
    async get(gid) {
      const r = records.get(gid);
      return r ? copy(r) : null;
    },
    async update(gid: string, from: readonly TxState[], patch: TxRecordPatch) {
      const r = records.get(gid);
      if (!r || !from.includes(r.state)) return false;
      records.set(gid, copy({ ...r, ...patch, updatedAt: Date.now() }));
      return true;
    },
    async finishMany(gids, from, to) {
      for (const gid of gids) {
        const r = records.get(gid);
        if (r?.state === from) records.set(gid, { ...r, state: to, updatedAt: Date.now() });
      }
    },
    async due(now, limit) {
      return [...records.values()]
        .filter((r) => OPEN_STATES.includes(r.state) && r.nextRetryAt <= now)
        .sort((a, b) => a.createdAt - b.createdAt)
        .slice(0, limit)
        .map(copy);
    },
  };
}
