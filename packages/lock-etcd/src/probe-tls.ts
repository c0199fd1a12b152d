import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { LockBackendError, type TlsSettings } from '@dlock/lock-core';

/** How long the probe may take; a server that does not answer in time is left to the client. */
const PROBE_TIMEOUT_MS = 3_000;

/**
 * One TLS handshake with `host:port` using the settings the gRPC channel will use. A refused
 * certificate (untrusted, self-signed, wrong name, expired) becomes a `LockBackendError` that
 * names it; anything else (nothing listening, a timeout) is left for the client to report on
 * its first call, as with a plain `etcd://` URL.
 */
export function probeTls(hostname: string, port: number, tls: TlsSettings): Promise<void> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  // SNI takes no IP address; Node then checks the certificate against the address itself.
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      ...(servername === undefined ? {} : { servername }),
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: true,
    });
    const done = (error?: Error & { code?: string }): void => {
      clearTimeout(timer);
      socket.destroy();
      const code = error?.code;
      // Certificate refusals have OpenSSL's names or ERR_TLS_/ERR_SSL_; socket errors are E….
      if (code && (/^ERR_(TLS|SSL)_/.test(code) || !/^E[A-Z_]+$/.test(code))) {
        reject(new LockBackendError('etcd', 'connect', error));
      } else resolve();
    };
    const timer = setTimeout(() => done(), PROBE_TIMEOUT_MS);
    socket.once('secureConnect', () => done());
    socket.once('error', done);
  });
}
