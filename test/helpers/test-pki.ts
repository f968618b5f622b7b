// Certificates made by the test that needs them (none checked in, so none expire): a CA and
// server certificates it signs for 127.0.0.1 and localhost, with the openssl command-line
// tool. Everything lives in a temporary directory the caller removes with `dispose()`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface ServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly serial: number;
}

export interface TestPki {
  readonly dir: string;
  /** The CA certificate (PEM), for clients to trust. */
  readonly ca: Buffer;
  /** A server certificate for 127.0.0.1 and localhost, signed by the CA, with this serial. */
  issue(serial: number, into?: { certFile: string; keyFile: string }): Promise<ServerCertificate>;
  /** A client certificate (mTLS) whose subject's common name is `name`, signed by the CA. */
  issueClient(name: string): Promise<{ readonly cert: Buffer; readonly key: Buffer }>;
  /** The CA certificate's file. */
  readonly caFile: string;
  dispose(): Promise<void>;
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-pki-'));
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.crt');
  await run('openssl', [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '2',
    '-subj',
    '/CN=hoard test CA',
  ]);
  const ext = path.join(dir, 'server.ext');
  await writeFile(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  const clientExt = path.join(dir, 'client.ext');
  await writeFile(clientExt, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  let clientSerial = 1000;
  /** A new key and a certificate for `subject`, signed by the CA with `extensions`. */
  const sign = async (
    files: { keyFile: string; certFile: string },
    subject: string,
    extensions: string,
    serial: number,
  ) => {
    const csr = `${files.certFile}.csr`;
    await run('openssl', ['req', ...EC, '-keyout', files.keyFile, '-out', csr, '-subj', subject]);
    const ca = ['-CA', caCert, '-CAkey', caKey, '-set_serial', String(serial), '-days', '2'];
    await run('openssl', ['x509', '-req', '-in', csr, ...ca, '-extfile', extensions, '-out', files.certFile]);
  };
  return {
    dir,
    caFile: caCert,
    ca: await readFile(caCert),
    async issueClient(name) {
      const files = { keyFile: path.join(dir, `client-${name}.key`), certFile: path.join(dir, `client-${name}.crt`) };
      await sign(files, `/CN=${name}`, clientExt, clientSerial++);
      return { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
    },
    async issue(serial, into) {
      const files = into ?? {
        keyFile: path.join(dir, `server-${serial}.key`),
        certFile: path.join(dir, `server-${serial}.crt`),
      };
      await sign(files, '/CN=127.0.0.1', ext, serial);
      return { ...files, serial };
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
