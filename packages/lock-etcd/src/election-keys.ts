/**
 * What dlock writes in etcd for a leader election, in the layout of etcd's
 * `concurrency.Election` (election.go), so that `etcdctl elect` candidates and observers join in:
 *
 *   `${prefix}elect/${name}/${leaseIdHex}`        value: the candidate's public value
 *   `${prefix}electors/${name}/${leaseIdHex}`     value: {"owner":"<client id>#<secret>","count":1}
 *
 * `${prefix}elect/${name}` is the election's name for etcd (`etcdctl elect <that> <value>`): every
 * candidate has one key directly under it, named after its own lease (in lowercase hex, as the
 * Go Election names it), with the value it proclaims. The oldest key (lowest create revision)
 * leads; its create revision is the term. The dlock owner token is a secret, so it never goes in
 * the public value: it is in the side record, written on the same lease in the same transaction
 * (so it has the same create revision and dies with the candidate). A candidate without a side
 * record is someone else's (`etcdctl elect`): a foreign leader, whose owner matches no token.
 *
 * Both roots are also mutex queue prefixes (of the lock names `elect/<name>` and
 * `electors/<name>`): the mutex skips our keys there (see `isContender`), and we skip its keys
 * (`<hex>_<n>`) and everything of nested names.
 */
import { leaseHex } from './keys.js';

/** The election's name as etcd's Election and `etcdctl elect` know it. */
export function electionName(prefix: string, name: string): string {
  return `${prefix}elect/${name}`;
}

/** The prefix every candidate key of the election is directly under. */
export function candidateQueue(prefix: string, name: string): string {
  return `${electionName(prefix, name)}/`;
}

/** A candidate's key: its lease in hex, as the Go Election writes it. */
export function candidateKey(prefix: string, name: string, leaseId: string): string {
  return `${candidateQueue(prefix, name)}${leaseHex(leaseId)}`;
}

/** The side record of the candidate key `candidate` (its owner token and hold count). */
export function electorKey(prefix: string, name: string, candidate: string): string {
  return `${prefix}electors/${name}/${candidate.slice(candidate.lastIndexOf('/') + 1)}`;
}

const CANDIDATE = /^[0-9a-f]+$/;

/** Whether `key` is a candidate directly in `queue` (not a mutex key, not of a nested name). */
export function isCandidate(queue: string, key: string): boolean {
  return (
    key.length > queue.length && key.startsWith(queue) && CANDIDATE.test(key.slice(queue.length))
  );
}
