import type { LockClient } from '@dlock/lock-core';
import { reported } from '@dlock/lock-core/spi';
import { explainError } from '../explain-error.js';
import { type Io, out, say, toJson } from '../io.js';
import { openClient } from '../open-client.js';

/**
 * Opens a client on `url`, runs `fn`, closes the client, and turns any failure into a plain
 * message (or a JSON error object) and its exit code.
 */
export async function withClient(
  io: Io,
  url: string,
  json: boolean,
  fn: (client: LockClient) => Promise<number>,
): Promise<number> {
  let client: LockClient | undefined;
  try {
    client = await openClient(url, {}, io.env);
    return await fn(client);
  } catch (error) {
    const explained = explainError(error, url);
    if (json) out(io, toJson({ ok: false, error: explained.kind, message: explained.message }));
    else say(io, explained.message);
    return explained.exitCode;
  } finally {
    await client?.close().catch(reported('close'));
  }
}
