import { EXIT } from './exit-codes.js';

/** A problem with how dlock was called: printed as one plain sentence, exit code 64. */
export class UsageError extends Error {
  readonly exitCode: number = EXIT.USAGE;
  override name = 'UsageError';
}
