import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commandExists } from './processes.js';
import { requireService, type ServiceStatus } from './service-gate.js';
import { makeTempDir } from './temp-dir.js';

const run = promisify(execFile);

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/**
 * Throwaway PKI for TLS tests, made with `openssl` at test time (nothing checked in):
 * a CA, a server certificate it signed for `localhost` and `127.0.0.1`, one it signed for
 * `wrong.example` only, a self-signed certificate for `localhost`/`127.0.0.1`, and a client
 * certificate (CN `dlock-client`) it signed.
 */
export interface TlsFiles {
  readonly dir: string;
  /** The CA's certificate (PEM file). */
  readonly ca: string;
  readonly server: CertFiles;
  readonly wrongHost: CertFiles;
  readonly selfSigned: CertFiles;
  readonly client: CertFiles;
  remove(): Promise<void>;
}

/** Skips (locally) or fails (in CI) when `openssl` is not on PATH. */
export function requireOpenssl(): Promise<ServiceStatus> {
  return requireService('the openssl binary', async () => {
    if (!(await commandExists('openssl'))) throw new Error('openssl is not on PATH');
  });
}

const KEY = ['-newkey', 'rsa:2048', '-nodes'];

async function signed(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  ca: { cert: string; key: string },
): Promise<CertFiles> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await run('openssl', ['req', '-new', ...KEY, '-keyout', key, '-out', csr, '-subj', subject]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    // A serial of its own per certificate: -CAcreateserial shares one ca.srl file, which the
    // three signings in parallel below raced on ("Unable to load number from ca.srl").
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

export async function makeTlsFiles(): Promise<TlsFiles> {
  const temp = await makeTempDir('dlock-tls-');
  const dir = temp.path;
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  const selfSigned = { cert: join(dir, 'self.crt'), key: join(dir, 'self.key') };
  const local = 'subjectAltName=DNS:localhost,IP:127.0.0.1';
  await Promise.all([
    run('openssl', [
      'req',
      '-x509',
      ...KEY,
      '-keyout',
      ca.key,
      '-out',
      ca.cert,
      '-days',
      '2',
      '-subj',
      '/CN=dlock test CA',
    ]),
    run('openssl', [
      'req',
      '-x509',
      ...KEY,
      '-keyout',
      selfSigned.key,
      '-out',
      selfSigned.cert,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      local,
    ]),
  ]);
  const [server, wrongHost, client] = await Promise.all([
    signed(dir, 'server', '/CN=localhost', `${local}\nextendedKeyUsage=serverAuth\n`, ca),
    signed(
      dir,
      'wrong-host',
      '/CN=wrong.example',
      'subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n',
      ca,
    ),
    signed(dir, 'client', '/CN=dlock-client', 'extendedKeyUsage=clientAuth\n', ca),
  ]);
  return { dir, ca: ca.cert, server, wrongHost, selfSigned, client, remove: temp.remove };
}
