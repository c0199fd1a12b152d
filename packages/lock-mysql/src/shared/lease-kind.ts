import type { LeaseKind } from '@dlock/lock-core/spi';

/** The two namespaces of shared keys: a semaphore and a read-write lock of one name never meet. */
export type SharedFamily = 'semaphore' | 'read-write';

export function familyOf(kind: LeaseKind): SharedFamily {
  return kind === 'semaphore' ? 'semaphore' : 'read-write';
}

/** The primary key of a lease or waiter row, as placeholders' values. */
export interface LeaseKey {
  readonly name: Buffer;
  readonly family: SharedFamily;
  readonly owner: Buffer;
  readonly kind: LeaseKind;
}

/** Values for `name = ? AND family = ? AND owner = ? AND kind = ?` (see `PK`). */
export function pkValues(key: LeaseKey): unknown[] {
  return [key.name, key.family, key.owner, key.kind];
}

/** One lease's or waiter's row by its primary key. */
export const PK = '`name` = ? AND `family` = ? AND `owner` = ? AND `kind` = ?';

/** Every row of one key and family. */
export const KEY = '`name` = ? AND `family` = ?';
