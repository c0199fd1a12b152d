/**
 * The Redis names of one election on each node: lock-redis's own layout (the mutex's hash tag,
 * then `el`), so an election on one node is named as it is on a single Redis, and the layout
 * lives in one place.
 */
export { electionKeys } from '@dlock/lock-redis/internals';
