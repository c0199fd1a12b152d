import { EXIT } from './exit-codes.js';

/** A problem with how dlock was called: printed as one plain sentence, exit code 64. */
export class UsageError extends Error {
  readonly exitCode: number = EXIT.USAGE;
  override name = 'UsageError';
}

/** A file dlock was told to read (credentials, certificates) cannot be read: exit code 66. */
export class InputError extends UsageError {
  override readonly exitCode: number = EXIT.NO_INPUT;
  override name = 'InputError';
}
