// Credentials from the client's side, against a real hoard over real sockets: access control
// (htpasswd users, access-file tokens, JWTs) and mTLS. The client library and the CLI present
// user:password from the server URL, a bearer token (--token, HOARD_TOKEN) or a client
// certificate over HTTP and gRPC; a refusal is one clear ClientError ("authentication
// failed" / "permission denied"), never retried; no password or token is ever printed; and
// `hoard token create` makes tokens the server accepts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { parseAccessFile } from '../../src/access/access-file.ts';
import { ClientError } from '../../src/client/client-error.ts';
import { createClient } from '../../src/client/create-client.ts';
import type { ClientEvent, ClientOptions } from '../../src/client/types.ts';
import { digestOf, formatDigest } from '../../src/core/digest.ts';
import { ErrorCode } from '../../src/core/errors.ts';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { MAIN, runNode, type RunResult } from '../helpers/spawn-server.ts';
import { makeTestPki } from '../helpers/test-pki.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

/** A user whose password needs percent-encoding in a URL (and holds a ':'). */
const DAVE = { user: 'dave', password: 'p@ss:w/rd %é?#' };
/** Passwords and tokens that must never be printed. */
const WRONG_PASSWORD = 'wrong-S3cret-pw';

let fx: AccessFixtures;
let s: TestServer;
let http: string;
let grpc: string;
let work: string;

before(async () => {
  fx = await makeAccessFixtures();
  const line = execFileSync('htpasswd', ['-nbB', DAVE.user, DAVE.password], { encoding: 'utf8' }).trim();
  await appendFile(fx.htpasswdFile, `${line}\n`);
  s = await startTestServer({ ...fx.flags, grpcAddress: '127.0.0.1:0' });
  http = s.url;
  grpc = `grpc://${s.server.grpcAddress!}`;
  work = await mkdtemp(join(tmpdir(), 'hoard-credentials-'));
});
after(async () => {
  await s.close();
  await fx.close();
  await rm(work, { recursive: true, force: true });
});

/** `server` with user info, percent-encoded. */
function withUser(server: string, user: string, password: string): string {
  return server.replace('://', `://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`);
}

function hoard(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const base = { ...process.env };
  delete base['HOARD_TOKEN'];
  return runNode([MAIN, ...args], { env: { ...base, ...env } });
}

function assertNoSecret(text: string, secrets: readonly string[], what: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `${what} shows a secret: ${text}`);
}

/** Puts and gets a fresh blob as `server` with `opts`; the client never shows `secrets`. */
async function roundTrip(server: string, opts: ClientOptions, secrets: readonly string[] = []): Promise<void> {
  const client = createClient(server, { retry: { retries: 0 }, ...opts });
  try {
    const data = randomBytes(70_000);
    await client.put(digestOf(data), data);
    const back = await client.getBytes(digestOf(data));
    assert.ok(back && Buffer.from(back).equals(data), server);
    assert.ok(await client.has(digestOf(data)));
    for (const shown of [client.server, String(client), `${client}`, inspect(client, { depth: 5 })])
      assertNoSecret(shown, secrets, 'the client');
  } finally {
    await client.close();
  }
}

/** The ClientError a put as `server` with `opts` fails with, and the retries it made. */
async function refusedPut(server: string, opts: ClientOptions, size = 1000) {
  const events: ClientEvent[] = [];
  const client = createClient(server, { ...opts, onEvent: (e) => events.push(e) });
  const data = randomBytes(size);
  const t0 = Date.now();
  try {
    await client.put(digestOf(data), data);
  } catch (err) {
    assert.ok(err instanceof ClientError, String(err));
    return { err, ms: Date.now() - t0, retries: events.filter((e) => e.type === 'retry').length };
  } finally {
    await client.close();
  }
  assert.fail(`a put to ${server} was not refused`);
}

test('client library: user:password in the URL (bcrypt, percent-encoded), a token, a JWT: put and get over HTTP and gRPC', async () => {
  const jwt = await fx.jwt({ sub: 'ci-7', scope: 'read write', namespaces: ['*'] });
  for (const server of [http, grpc]) {
    await roundTrip(withUser(server, 'alice', 'alice-pw'), {}, ['alice-pw']);
    await roundTrip(withUser(server, DAVE.user, DAVE.password), {}, [DAVE.password, encodeURIComponent(DAVE.password)]);
    await roundTrip(server, { basic: { user: 'alice', password: 'alice-pw' } }, ['alice-pw']);
    await roundTrip(server, { token: fx.tokens['writer']! }, [fx.tokens['writer']!]);
    await roundTrip(server, { token: jwt }, [jwt]);
    // The token wins over the URL's user info (which is not even sent: the wrong password is no failure).
    await roundTrip(withUser(server, 'alice', WRONG_PASSWORD), { token: fx.tokens['writer']! }, [WRONG_PASSWORD]);
    // ...and both over an authorization header.
    await roundTrip(server, { token: fx.tokens['writer']!, headers: { Authorization: 'Bearer hoard_nope' } });
  }
});

test('client library: a wrong password fails at once with "authentication failed", a read-only token gets "permission denied"; never retried', async () => {
  for (const server of [http, grpc]) {
    // A large body too: the server answers before reading it and closes the connection, after
    // letting the client finish sending (src/frontends/http/respond.ts), so the client reads
    // the answer instead of a reset connection, and does not retry.
    for (const size of [1000, 2_000_000]) {
      const wrong = await refusedPut(withUser(server, 'alice', WRONG_PASSWORD), {}, size);
      assert.equal(wrong.err.code, ErrorCode.Unauthenticated, wrong.err.message);
      assert.match(wrong.err.message, /^authentication failed: .*wrong password/);
      assert.equal(wrong.retries, 0, wrong.err.message);
      assert.ok(wrong.ms < 2000, `${wrong.ms} ms`);
      assertNoSecret(`${wrong.err.message} ${inspect(wrong.err)}`, [WRONG_PASSWORD], 'the error');
    }

    const none = await refusedPut(server, {});
    assert.equal(none.err.code, ErrorCode.Unauthenticated);
    assert.match(none.err.message, /^authentication failed: /);

    const reader = await refusedPut(server, { token: fx.tokens['reader']! });
    assert.equal(reader.err.code, ErrorCode.PermissionDenied, reader.err.message);
    assert.match(reader.err.message, /^permission denied: .*no write scope/);
    assert.equal(reader.retries, 0);
    assertNoSecret(reader.err.message, [fx.tokens['reader']!], 'the error');
  }
  // HEAD has no body: the challenge stands in for the server's message.
  const client = createClient(withUser(http, 'alice', WRONG_PASSWORD));
  try {
    await assert.rejects(
      client.has(digestOf(Buffer.from('x'))),
      /^ClientError: authentication failed: HEAD .*Basic realm/,
    );
  } finally {
    await client.close();
  }
});

test('client library: credentials no server can read are usage errors that name no secret', () => {
  assert.throws(() => createClient(http, { token: 'has space' }), { code: ErrorCode.InvalidArgument });
  assert.throws(() => createClient(http, { token: '' }), { code: ErrorCode.InvalidArgument });
  assert.throws(() => createClient(http, { basic: { user: 'a:b', password: 'x' } }), /may not contain ':'/);
  assert.throws(() => createClient(http, { cert: 'x' }), /needs its key/);
  assert.throws(() => createClient(http, { cert: 'x', key: 'y' }), /for https:\/\/ and grpcs:\/\//);
  for (const bad of [`http://alice:${WRONG_PASSWORD}@127.0.0.1:99999`, `ftp://alice:${WRONG_PASSWORD}@host`]) {
    assert.throws(
      () => createClient(bad),
      (err: Error) => {
        assert.match(err.message, /alice:\*\*\*@/);
        assertNoSecret(err.message, [WRONG_PASSWORD], 'the error');
        return true;
      },
    );
  }
});

test('CLI: put/get/stat with --token, HOARD_TOKEN and user:password in --server; nothing printed shows a secret', async () => {
  const token = fx.tokens['writer']!;
  const file = join(work, 'blob');
  const data = randomBytes(50_000);
  await writeFile(file, data);
  const digest = formatDigest(digestOf(data));
  const secrets = [token, 'alice-pw', WRONG_PASSWORD, DAVE.password, encodeURIComponent(DAVE.password)];
  const check = (r: RunResult, code: number, what: string): RunResult => {
    assert.equal(r.code, code, `${what}: ${r.stderr}`);
    assertNoSecret(r.stdout + r.stderr, secrets, what);
    return r;
  };

  const put = check(await hoard(['put', file, '--server', withUser(http, 'alice', 'alice-pw'), '-v']), 0, 'put');
  assert.equal(put.stdout, `${digest}  ${file}\n`);
  assert.match(put.stderr, /connected to http:\/\/127\.0\.0\.1:\d+\n/, 'the verbose log names the server');
  check(await hoard(['stat', digest, '--server', grpc, '--token', token]), 0, 'stat --token');
  check(await hoard(['stat', digest, '--server', withUser(grpc, DAVE.user, DAVE.password)]), 0, 'stat dave');
  check(await hoard(['get', digest, '--server', http, '-o', join(work, 'out')], { HOARD_TOKEN: token }), 0, 'get');
  assert.ok((await readFile(join(work, 'out'))).equals(data));
  // The flag wins over the environment.
  check(await hoard(['stat', digest, '--server', http, '--token', token], { HOARD_TOKEN: 'hoard_x' }), 0, 'flag');

  const wrong = check(
    await hoard(['stat', digest, '--server', withUser(http, 'alice', WRONG_PASSWORD), '-v']),
    1,
    'wrong password',
  );
  assert.match(wrong.stderr, /authentication failed: HEAD .* HTTP 401/); // stat over HTTP: HEAD, no message body
  const badToken = check(await hoard(['get', digest, '--server', grpc, '-o', '-'], { HOARD_TOKEN: 'hoard_x' }), 1, '');
  assert.match(badToken.stderr, /authentication failed: /);
  const readOnly = check(await hoard(['put', file, '--server', grpc, '--token', fx.tokens['reader']!]), 1, 'reader');
  assert.match(readOnly.stderr, /permission denied: /);
  assertNoSecret(readOnly.stderr, [fx.tokens['reader']!], 'put as reader');
  const unparsable = check(
    await hoard(['stat', digest, '--server', `http://alice:${WRONG_PASSWORD}@127.0.0.1:99999`]),
    2,
    'bad URL',
  );
  assert.match(unparsable.stderr, /alice:\*\*\*@/);

  // bench and check print their server: without the password.
  const json = join(work, 'bench.json');
  const bench = check(
    await hoard([
      'bench',
      '--server',
      withUser(http, 'alice', 'alice-pw'),
      '--count',
      '4',
      '-c',
      '2',
      '--scenarios',
      'put-small,get-small',
      '--json',
      json,
    ]),
    0,
    'bench',
  );
  assert.match(bench.stdout, /put-small/);
  assertNoSecret(await readFile(json, 'utf8'), secrets, 'the bench report');
  const conf = check(
    await hoard(['check', '--server', withUser(http, 'alice', 'alice-pw'), '--only', 'round-trip']),
    0,
    'check',
  );
  assert.match(conf.stdout, /hoard check http:\/\/127\.0\.0\.1:\d+: OK/);

  const help = await hoard(['put', '--help']);
  for (const flag of ['--token', 'HOARD_TOKEN', '--tls-cert-file', '--tls-key-file', 'user:password@'])
    assert.ok(help.stdout.includes(flag), `put --help names ${flag}`);
});

test('mTLS: a server that requires a client certificate refuses a client without one at once and serves one with it', async () => {
  const pki = await makeTestPki();
  const cert = await pki.issue(1);
  const mtls = await startTestServer({
    tlsCertFile: cert.certFile,
    tlsKeyFile: cert.keyFile,
    tlsCaFile: pki.caFile,
    tlsClientAuth: 'require',
    grpcAddress: '127.0.0.1:0',
  });
  const id = await pki.issueClient('ci-main');
  const certFile = join(work, 'client.crt');
  const keyFile = join(work, 'client.key');
  await writeFile(certFile, id.cert);
  await writeFile(keyFile, id.key);
  try {
    for (const server of [mtls.url, `grpcs://${mtls.server.grpcAddress!}`]) {
      const refused = await refusedPut(server, { ca: pki.ca });
      assert.equal(refused.err.code, ErrorCode.Unauthenticated, refused.err.message);
      assert.match(refused.err.message, /^authentication failed: .*requires a client certificate/);
      assert.equal(refused.retries, 0);
      assert.ok(refused.ms < 2000, `${refused.ms} ms`);
      await roundTrip(server, { ca: pki.ca, cert: id.cert, key: id.key });

      const tls = ['--tls-ca-file', pki.caFile];
      const file = join(work, 'mtls-blob');
      await writeFile(file, randomBytes(3000));
      const put = await hoard([
        'put',
        file,
        '--server',
        server,
        ...tls,
        '--tls-cert-file',
        certFile,
        '--tls-key-file',
        keyFile,
      ]);
      assert.equal(put.code, 0, put.stderr);
      const without = await hoard(['stat', put.stdout.split(' ')[0]!, '--server', server, ...tls]);
      assert.equal(without.code, 1);
      assert.match(without.stderr, /requires a client certificate/);
    }
    const half = await hoard(['stat', `${'0'.repeat(64)}/1`, '--server', mtls.url, '--tls-cert-file', certFile]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /--tls-cert-file and --tls-key-file go together/);
    const other = await makeTestPki();
    const mismatched = await other.issueClient('x');
    await other.dispose();
    assert.throws(() => createClient(mtls.url, { cert: id.cert, key: mismatched.key }), /not a usable PEM pair/);
  } finally {
    await mtls.close();
    await pki.dispose();
  }
});

test('hoard token create: a record the server accepts, comments kept, duplicates refused, the secret shown once', async () => {
  const file = join(work, 'access.yaml');
  const original = [
    '# Who may use this cache.',
    'tokens: [] # none yet',
    'users:',
    '  # the build robot',
    '  - { name: robot, scopes: [read] }',
    '',
  ].join('\n');
  await writeFile(file, original);
  const create = (name: string, extra: string[] = []) =>
    hoard(['token', 'create', '--name', name, '--scopes', 'read,write', '--access-file', file, ...extra]);

  const made = await create('ci', ['--namespaces', 'main,pr-*']);
  assert.equal(made.code, 0, made.stderr);
  const [secret, ...rest] = made.stdout.trimEnd().split('\n');
  assert.match(secret!, /^hoard_[A-Za-z0-9_-]{43}$/, 'the secret, alone on the first line: 32 bytes base64url');
  assert.match(rest.join('\n'), /store this token now/i);
  assert.equal(made.stdout.split(secret!).length, 2, 'the secret is printed once');
  const text = await readFile(file, 'utf8');
  assert.ok(!text.includes(secret!), 'the file holds no secret');
  for (const kept of ['# Who may use this cache.', '# the build robot', 'name: robot'])
    assert.ok(text.includes(kept), kept);
  const policy = parseAccessFile(text, file);
  const sha256 = createHash('sha256').update(secret!).digest('hex');
  const record = policy.tokens.get(sha256);
  assert.ok(record, text);
  assert.deepEqual([record.name, [...record.scopes], record.namespaces], ['ci', ['read', 'write'], ['main', 'pr-*']]);
  assert.ok(policy.users.has('robot'));

  const dup = await create('ci');
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already has a token named "ci"/);
  assert.equal(dup.stdout, '', 'no secret for a record that was not stored');
  assert.equal(await readFile(file, 'utf8'), text, 'the file is unchanged');
  for (const bad of [
    ['--scopes', 'read,delete'],
    ['--scopes', 'read', '--namespaces', 'a*b'],
  ]) {
    const r = await hoard(['token', 'create', '--name', 'x', ...bad, '--access-file', file]);
    assert.equal(r.code, 2, bad.join(' '));
  }

  // Without a file: the record to paste, which parses as a tokens: entry.
  const printed = await hoard(['token', 'create', '--name', 'paste', '--scopes', 'read']);
  assert.equal(printed.code, 0, printed.stderr);
  const pasteSecret = printed.stdout.split('\n')[0]!;
  const yaml = printed.stdout
    .split('\n')
    .filter((l) => !l.startsWith('#') && l !== pasteSecret)
    .join('\n');
  const pasted = parseAccessFile(`tokens:\n${yaml}`, 'pasted.yaml');
  assert.equal(pasted.tokens.get(createHash('sha256').update(pasteSecret).digest('hex'))?.name, 'paste');

  // A server with that file takes the token for its namespaces only, and picks up a token added while it runs.
  const server = await startTestServer({ accessFile: file });
  try {
    await roundTrip(`${server.url}/main`, { token: secret! });
    await roundTrip(`${server.url}/pr-42`, { token: secret! });
    const elsewhere = await refusedPut(`${server.url}/other`, { token: secret! });
    assert.match(elsewhere.err.message, /^permission denied: /);

    const later = await create('ci-2');
    assert.equal(later.code, 0, later.stderr);
    const laterSecret = later.stdout.split('\n')[0]!;
    for (let i = 0; ; i++) {
      try {
        await roundTrip(server.url, { token: laterSecret });
        break;
      } catch (err) {
        if (i >= 50) throw err;
        await sleep(200);
      }
    }
  } finally {
    await server.close();
  }
});
