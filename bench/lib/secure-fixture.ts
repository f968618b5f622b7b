// What the secured benchmark (bench/secured.ts) needs to run servers behind TLS with
// credentials, made fresh in a temporary directory by each run (nothing checked in, so
// nothing expires): a CA and a server certificate for 127.0.0.1 (openssl), an htpasswd
// file with one bcrypt user (`htpasswd -nbB`, Apache's own tool, as operators make them),
// and an access file with one read/write bearer token stored as its sha256.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const run = promisify(execFile);

/** P-256 keys: what a certificate issued today most often carries. */
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** The user of the htpasswd file. */
export const BENCH_USER = 'bench';

export interface SecureFixture {
  readonly dir: string;
  /** The CA certificate (PEM) the clients trust. */
  readonly ca: Buffer;
  /** A server certificate for IP 127.0.0.1 signed by the CA, and its key (PEM files). */
  readonly certFile: string;
  readonly keyFile: string;
  /** One bcrypt user: BENCH_USER with `password`. */
  readonly htpasswdFile: string;
  readonly password: string;
  /** One token with read and write on every namespace; the file holds only its sha256. */
  readonly accessFile: string;
  /** `Basic base64(user:password)`, an Authorization value. */
  readonly basic: string;
  /** `Bearer <token>`, an Authorization value. */
  readonly bearer: string;
  dispose(): Promise<void>;
}

/** Which of the tools the fixture runs are missing (empty when all are there). */
export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const [tool, args, pkg] of [
    ['openssl', ['version'], 'openssl'],
    ['htpasswd', ['-nbB', 'u', 'p'], 'apache2-utils'],
  ] as const) {
    try {
      await run(tool, [...args]);
    } catch {
      missing.push(`${tool} (Debian: apt-get install -y ${pkg})`);
    }
  }
  return missing;
}

export async function makeSecureFixture(): Promise<SecureFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-bench-secure-'));
  try {
    const f = (name: string) => path.join(dir, name);
    const ca = ['-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=hoard bench CA'];
    await run('openssl', ['req', '-x509', ...EC, ...ca]);
    await writeFile(
      f('server.ext'),
      'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
    );
    await run('openssl', ['req', ...EC, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-set_serial',
      '1',
      '-days',
      '2',
      '-extfile',
      f('server.ext'),
      '-out',
      f('server.crt'),
    ]);

    const password = randomBytes(12).toString('base64url');
    // -B: bcrypt at htpasswd's default cost (5), the form both servers document.
    const { stdout } = await run('htpasswd', ['-nbB', BENCH_USER, password]);
    await writeFile(f('htpasswd'), `${stdout.trim()}\n`);

    const token = `hoard_${randomBytes(24).toString('base64url')}`;
    const sha256 = createHash('sha256').update(token).digest('hex');
    await writeFile(
      f('access.yaml'),
      stringify({ tokens: [{ name: 'bench', sha256, scopes: ['read', 'write'], namespaces: ['*'] }] }),
    );
    return {
      dir,
      ca: await readFile(f('ca.crt')),
      certFile: f('server.crt'),
      keyFile: f('server.key'),
      htpasswdFile: f('htpasswd'),
      password,
      accessFile: f('access.yaml'),
      basic: `Basic ${Buffer.from(`${BENCH_USER}:${password}`).toString('base64')}`,
      bearer: `Bearer ${token}`,
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
