/**
 * The parts of node-redlock 5.0.0-beta.2 the Redis benchmark uses. Its package.json "exports"
 * map has no "types" entry, so TypeScript cannot find the declarations it ships.
 */
declare module 'redlock' {
  import type { Redis } from 'ioredis';

  export interface RedlockSettings {
    retryCount: number;
    retryDelay: number;
    retryJitter: number;
  }

  export interface RedlockLock {
    release(): Promise<unknown>;
  }

  export default class Redlock {
    constructor(clients: Iterable<Redis>, settings?: Partial<RedlockSettings>);
    acquire(resources: string[], duration: number): Promise<RedlockLock>;
  }
}
