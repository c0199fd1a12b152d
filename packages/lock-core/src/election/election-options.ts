import { LockArgumentError } from '../errors.js';
import { rejectUnknownOptions } from '../option-validators.js';
import type { CampaignOptions, ElectionOptions, RunOptions } from '../types.js';
import { describeValue, validateTtl } from '../validate.js';

/** The largest value a leader may proclaim, in UTF-8 bytes (the SPI's promise to backends). */
export const MAX_VALUE_BYTES = 4096;

const ELECTION_OPTIONS = ['value', 'ttlMs'];
const CAMPAIGN_OPTIONS = ['waitTimeoutMs', 'signal', 'strategy', 'onLost'];
const RUN_OPTIONS = [...CAMPAIGN_OPTIONS, 'requeue'];

export function validateValue(value: unknown): string {
  if (typeof value !== 'string' || !value.isWellFormed()) {
    throw new LockArgumentError(
      `An election value must be a well-formed string, got ${describeValue(value)}`,
    );
  }
  // A UTF-16 code unit takes at most 3 UTF-8 bytes, so short values need no counting.
  if (value.length * 3 > MAX_VALUE_BYTES && Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
    throw new LockArgumentError(
      `An election value is ${Buffer.byteLength(value, 'utf8')} UTF-8 bytes; the limit is ${MAX_VALUE_BYTES}`,
    );
  }
  return value;
}

/** `locks.election(name, options)`'s options; `LockArgumentError` before any I/O. */
export function electionOptions(options: ElectionOptions | undefined): {
  value: string;
  ttlMs: number | undefined;
} {
  if (options === undefined) {
    throw new LockArgumentError('election(name, { value }) needs the value a leader proclaims');
  }
  const o = rejectUnknownOptions('election', options, ELECTION_OPTIONS);
  const value = validateValue(o.value);
  const ttlMs = o.ttlMs === undefined ? undefined : validateTtl('ttlMs', o.ttlMs);
  return { value, ttlMs };
}

/** Splits `run()`'s options into `requeue` and the campaign's (checked as a lock call's later). */
export function runOptions(options: RunOptions | undefined): {
  requeue: boolean;
  campaign: CampaignOptions;
} {
  const o = rejectUnknownOptions('run', options, RUN_OPTIONS);
  const { requeue, ...campaign } = o as RunOptions;
  if (requeue !== undefined && typeof requeue !== 'boolean') {
    throw new LockArgumentError(`requeue must be a boolean, got ${describeValue(requeue)}`);
  }
  return { requeue: requeue === true, campaign };
}

/** `campaign()`'s options: only the known names (the values are checked as a lock call's). */
export function campaignOptions(options: CampaignOptions | undefined): CampaignOptions {
  return rejectUnknownOptions('campaign', options, CAMPAIGN_OPTIONS) as CampaignOptions;
}
