import { copyFile } from 'node:fs/promises';
import { connect, LockArgumentError, LockBackendError } from '@dlock/lock-core';
import {
  makeTlsFiles,
  type PrivateMariadb,
  printedForms,
  rejectionOf,
  requireMariadbBinaries,
  requireOpenssl,
  startPrivateMariadb,
  type TlsFiles,
  uniqueName,
} from '@dlock/test-utils';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchema } from '../src/index.js';
import { MYSQL_URL, requireMysql, tempTable, testPool } from './helpers/mysql.js';

const mysql = await requireMysql();
const binaries = await requireMariadbBinaries();
const openssl = await requireOpenssl();

describe.skipIf(!mysql.available)('no password or owner token in any error', () => {
  const user = uniqueName('dlock_sec').slice(0, 32);
  const password = 'Pw-4rT-never-printed';
  beforeAll(async () => {
    const admin = await createConnection(MYSQL_URL);
    await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '127.0.0.1', password]);
    await admin.end();
  });
  afterAll(async () => {
    const admin = await createConnection(MYSQL_URL);
    await admin.query('DROP USER IF EXISTS ?@?', [user, '127.0.0.1']);
    await admin.end();
  });

  it('a wrong password: LockBackendError ER_ACCESS_DENIED_ERROR, the password nowhere', async () => {
    const wrong = 'wrong-Pw-8zQ-secret';
    const url = new URL(MYSQL_URL);
    url.username = user;
    url.password = wrong;
    const client = await connect(url);
    try {
      const error = await rejectionOf(client.acquire('k', { waitTimeoutMs: 0 }));
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as LockBackendError).cause).toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
      expect(printedForms(error)).not.toContain(wrong);
    } finally {
      await client.close();
    }
  });

  it('a failing statement: no SQL and no owner token (plain or hex) in the cause', async () => {
    const pool = testPool(2);
    const table = await tempTable(pool, 'sec');
    const owner = 'operator#bearer-Secret-5xK';
    const client = await connect(`${MYSQL_URL}?table=${table.name}`);
    try {
      await table.drop(); // the statement now fails on a missing table, with the owner bound
      const error = await rejectionOf(client.acquire('k', { owner, waitTimeoutMs: 0 }));
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as LockBackendError).cause).toMatchObject({ code: 'ER_NO_SUCH_TABLE' });
      const text = printedForms(error);
      expect(text).not.toContain('bearer-Secret-5xK');
      expect(text.toLowerCase()).not.toContain(Buffer.from('bearer-Secret-5xK').toString('hex'));
      expect(Object.hasOwn((error as LockBackendError).cause as object, 'sql')).toBe(false);
    } finally {
      await client.close();
      await pool.end();
    }
  });
});

describe.skipIf(!binaries.available || !openssl.available)(
  'mysql:// over TLS (a private MariaDB)',
  () => {
    let files: TlsFiles;
    let server: PrivateMariadb;
    /** The files the server reads; FLUSH SSL makes it present whatever is copied there. */
    let served: { cert: string; key: string };
    const present = async (which: { cert: string; key: string }): Promise<void> => {
      await copyFile(which.cert, served.cert);
      await copyFile(which.key, served.key);
      const admin = await createConnection({ host: '127.0.0.1', port: server.port, user: 'root' });
      await admin.query('FLUSH SSL');
      await admin.end();
    };
    beforeAll(async () => {
      files = await makeTlsFiles();
      served = { cert: `${files.dir}/served.crt`, key: `${files.dir}/served.key` };
      await copyFile(files.server.cert, served.cert);
      await copyFile(files.server.key, served.key);
      server = await startPrivateMariadb({
        args: [`--ssl-cert=${served.cert}`, `--ssl-key=${served.key}`, `--ssl-ca=${files.ca}`],
      });
      const { createPool } = await import('mysql2/promise');
      const pool = createPool({ uri: server.url });
      await ensureSchema(pool);
      await pool.end();
    }, 60_000);
    afterAll(async () => {
      await server?.dispose();
      await files?.remove();
    });

    /** Takes and releases a lock through connect(url). */
    const cipher = async (url: string): Promise<string> => {
      const client = await connect(url);
      try {
        await (await client.acquire('k', { waitTimeoutMs: 0 })).release();
      } finally {
        await client.close();
      }
      return 'ok';
    };

    it('our own CA is accepted (the lock works over TLS)', async () => {
      await present(files.server);
      expect(await cipher(`mysql://root@127.0.0.1:${server.port}/test?tlsCa=${files.ca}`)).toBe(
        'ok',
      );
    });

    it('a certificate for another host name, signed by our CA, is refused', async () => {
      await present(files.wrongHost);
      const error = await rejectionOf(
        cipher(`mysql://root@127.0.0.1:${server.port}/test?tlsCa=${files.ca}`),
      );
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/does not match|altnames|not in the cert/i);
    });

    it('a self-signed certificate is refused', async () => {
      await present(files.selfSigned);
      const error = await rejectionOf(
        cipher(`mysql://root@127.0.0.1:${server.port}/test?tlsCa=${files.ca}`),
      );
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/self[- ]signed|unable to verify/i);
    });

    it('bad TLS options are LockArgumentError before any I/O', async () => {
      for (const url of [
        `mysql://root@127.0.0.1:${server.port}/test?tlsCa=/no/such/file`,
        `mysql://root@127.0.0.1:${server.port}/test?tlsServername=x`,
        `mysql://root@127.0.0.1:${server.port}/test?tlsCa=${files.ca}&ssl=%7B%7D`,
      ]) {
        await expect(connect(url)).rejects.toBeInstanceOf(LockArgumentError);
      }
    });
  },
);
