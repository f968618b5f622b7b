// Access control over real sockets, for every source of identities at once (htpasswd users
// in all three hash forms, bearer tokens, JWTs) and both protocols: the bad-input battery
// gets 401 with the right WWW-Authenticate or 403 (UNAUTHENTICATED / PERMISSION_DENIED over
// gRPC), changes nothing in the store, is counted by cause, and no secret reaches the log.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { digestOf } from '../../src/core/digest.ts';
import { startServer, type RunningServer } from '../../src/server/start-server.ts';
import { makeAccessFixtures, USERS, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { makeTestPki } from '../helpers/test-pki.ts';
import { rawRequest, sha256, startTestServer, testConfig } from '../helpers/test-server.ts';
import { codeOf, reapiClients, unary } from './reapi-harness.ts';

let fx: AccessFixtures;
let server: RunningServer;
let dir: string;
let logFile: string;

before(async () => {
  fx = await makeAccessFixtures();
  dir = await mkdtemp(join(tmpdir(), 'hoard-access-it-'));
  logFile = join(dir, 'server.log');
  const config = await testConfig(join(dir, 'store'), {
    ...fx.flags,
    grpcAddress: '127.0.0.1:0',
    accessLog: 'on',
    logLevel: 'debug',
  });
  server = await startServer(config, {
    logger: pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true })),
  });
});
after(async () => {
  await server.shutdown(1000);
  await rm(dir, { recursive: true, force: true });
  await fx.close();
});

const bearer = (token: string) => `Bearer ${token}`;
const put = (path: string, body: Buffer, authorization?: string) =>
  rawRequest(server.httpUrl, 'PUT', path, body, authorization === undefined ? {} : { authorization });
const get = (path: string, authorization?: string) =>
  rawRequest(server.httpUrl, 'GET', path, undefined, authorization === undefined ? {} : { authorization });

async function errorsByCause(): Promise<Map<string, number>> {
  const text = await server.metrics.render();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^hoard_errors_total\{([^}]*)\} (\d+)/gm)) {
    const cause = /cause="([^"]*)"/.exec(m[1]!)![1]!;
    out.set(cause, (out.get(cause) ?? 0) + Number(m[2]));
  }
  return out;
}

test('HTTP: each refusal has its status, challenge and cause; nothing is stored; good credentials of every kind work', async () => {
  const body = Buffer.from('access-controlled blob');
  const path = `/cas/${sha256(body)}`;

  const missing = await put(path, body);
  assert.equal(missing.status, 401);
  // Two WWW-Authenticate headers, which Node's client joins with ', '.
  assert.equal(missing.headers['www-authenticate'], 'Basic realm="hoard", charset="UTF-8", Bearer realm="hoard"');
  assert.equal((await get(path)).status, 401, 'reads need credentials too');

  const refusals: [string, string, number][] = [
    ['Basic !!!', 'malformed Basic', 401],
    ['Basic ' + Buffer.from('no-colon').toString('base64'), 'Basic without a colon', 401],
    ['Digest abc', 'an unknown scheme', 401],
    [fx.basic('alice', 'wrong'), 'a wrong password', 401],
    [fx.basic('mallory', 'x'), 'an unknown user', 401],
    [bearer('hoard_not-a-token'), 'an unknown token', 401],
    [`Bearer ${'x'.repeat(9000)}`, 'an oversized Authorization', 401],
    [bearer(fx.tokens['reader']!), 'a read-only token writing', 403],
    [fx.basic('reader'), 'a read-only user writing', 403],
    [bearer(fx.tokens['team-a']!), "a token for another namespace (team-a writing '')", 403],
    [bearer(fx.tokens['admin']!), 'an admin-only token writing', 403],
  ];
  for (const [authorization, what, expected] of refusals) {
    const r = await put(path, body, authorization);
    assert.equal(r.status, expected, `${what}: ${r.status} ${r.body.toString()}`);
    if (expected === 401) assert.ok(r.headers['www-authenticate'], `${what}: a 401 says which schemes are accepted`);
  }
  const unknownToken = await put(path, body, bearer('hoard_not-a-token'));
  assert.match(String(unknownToken.headers['www-authenticate']), /Bearer realm="hoard", error="invalid_token"/);

  // Nothing of that reached the store.
  assert.equal((await get(path, fx.basic('alice'))).status, 404);
  assert.equal(server.store.usage().entries, 0);

  // Every htpasswd form, a token and a JWT write; a reader reads.
  for (const user of ['alice', 'bob', 'carol'] as const) {
    const b = Buffer.from(`written by ${user}`);
    assert.equal((await put(`/cas/${sha256(b)}`, b, fx.basic(user))).status, 200, user);
  }
  assert.equal((await put(path, body, bearer(fx.tokens['writer']!))).status, 200);
  const jwt = await fx.jwt({ sub: 'ci-42', scope: 'read write', namespaces: ['*'] });
  const jb = Buffer.from('written with a JWT');
  assert.equal((await put(`/cas/${sha256(jb)}`, jb, bearer(jwt))).status, 200);
  const read = await get(path, fx.basic('reader'));
  assert.equal(read.status, 200);
  assert.deepEqual(read.body, body);
  assert.equal((await get(path, bearer(fx.tokens['reader']!))).status, 200);
  assert.equal((await get(path, bearer(jwt))).status, 200, 'a remembered JWT still verifies');

  // A namespaced token writes its own namespace and reads nothing else.
  assert.equal((await put(`/team-a${path}`, body, bearer(fx.tokens['team-a']!))).status, 200);
  assert.equal((await get(`/team-a${path}`, bearer(fx.tokens['team-a']!))).status, 200);
  assert.equal((await get(`/team-b${path}`, bearer(fx.tokens['team-a']!))).status, 403);
});

test('a pull-request identity writes its own namespaces, reads main, and never writes main', async () => {
  const pr = bearer(fx.tokens['pull-requests']!);
  const mainBlob = Buffer.from('built on main');
  const mainPath = `/main/cas/${sha256(mainBlob)}`;
  assert.equal((await put(mainPath, mainBlob, bearer(fx.tokens['writer']!))).status, 200);
  assert.deepEqual((await get(mainPath, pr)).body, mainBlob, 'reads main');
  const poison = Buffer.from('a pull request poisoning main');
  const refused = await put(`/main/cas/${sha256(poison)}`, poison, pr);
  assert.equal(refused.status, 403);
  assert.match(refused.body.toString(), /may not write namespace "main"/);
  assert.equal((await get(`/main/cas/${sha256(poison)}`, pr)).status, 404, 'nothing reached main');
  assert.equal((await put(`/pr-7/cas/${sha256(poison)}`, poison, pr)).status, 200, 'writes its own');
  assert.equal((await get('/other/cas/' + sha256(poison), pr)).status, 403, 'reads nothing else');
});

test('HTTP: JWTs that expired, are for another audience or issuer, or signed by an unknown key are refused', async () => {
  const b = Buffer.from('jwt refusals');
  const path = `/cas/${sha256(b)}`;
  const claims = { sub: 'ci', scope: 'read write', namespaces: '*' };
  const cases: [string, string][] = [
    [await fx.jwt(claims, { expiresIn: Math.floor(Date.now() / 1000) - 120 }), 'token_expired'],
    [await fx.jwt({ ...claims, aud: 'another-service' }), 'token_wrong_audience'],
    [await fx.jwt({ ...claims, iss: 'https://evil.test' }), 'token_wrong_issuer'],
    [await fx.jwt(claims, { foreignKey: true }), 'token_invalid'],
  ];
  const before = await errorsByCause();
  for (const [token, cause] of cases) {
    const r = await put(path, b, bearer(token));
    assert.equal(r.status, 401, cause);
    assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
  }
  const after = await errorsByCause();
  for (const [, cause] of cases) assert.equal((after.get(cause) ?? 0) - (before.get(cause) ?? 0), 1, cause);
  // A JWT within the clock skew of its expiry is still good; one without namespaces reaches none.
  const skewed = await fx.jwt(claims, { expiresIn: Math.floor(Date.now() / 1000) - 10 });
  assert.equal((await put(path, b, bearer(skewed))).status, 200);
  const noNamespaces = await fx.jwt({ sub: 'ci', scope: 'read write' });
  assert.equal((await get(path, bearer(noNamespaces))).status, 403);
});

test('operator endpoints: health for anyone, /status and /metrics for the admin scope', async () => {
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);
  assert.equal((await get('/status')).status, 401);
  assert.equal((await get('/metrics')).status, 401);
  assert.equal((await get('/status', fx.basic('alice'))).status, 403, 'read and write are not admin');
  assert.equal((await get('/status', bearer(fx.tokens['admin']!))).status, 200);
  assert.equal((await get('/metrics', bearer(fx.tokens['admin']!))).status, 200);
});

test('gRPC: credentials in authorization metadata; refusals are UNAUTHENTICATED or PERMISSION_DENIED and store nothing', async () => {
  const address = server.grpcAddress!;
  const withAuth = (authorization?: string) => {
    const m = new Metadata();
    if (authorization !== undefined) m.set('authorization', authorization);
    return m;
  };
  const data = Buffer.from('blob over gRPC with credentials');
  const digest = digestOf(data);
  const update = { requests: [{ digest, data }] };
  const plain = reapiClients(address);
  try {
    assert.equal(await codeOf(unary(plain.cas, 'BatchUpdateBlobs', update)), status.UNAUTHENTICATED);
    assert.equal(
      await codeOf(unary(plain.cas, 'BatchUpdateBlobs', update, withAuth(fx.basic('alice', 'nope')))),
      status.UNAUTHENTICATED,
    );
    assert.equal(
      await codeOf(unary(plain.cas, 'BatchUpdateBlobs', update, withAuth(bearer(fx.tokens['reader']!)))),
      status.PERMISSION_DENIED,
    );
    assert.equal(
      await codeOf(
        unary(
          plain.ac,
          'UpdateActionResult',
          {
            actionDigest: digest,
            actionResult: { exitCode: 0 },
          },
          withAuth(bearer(fx.tokens['team-a']!)),
        ),
      ),
      status.PERMISSION_DENIED,
    );
    const missing = await unary<{ missingBlobDigests: unknown[] }>(
      plain.cas,
      'FindMissingBlobs',
      { blobDigests: [digest] },
      withAuth(bearer(fx.tokens['reader']!)),
    );
    assert.equal(missing.missingBlobDigests.length, 1, 'nothing was stored by the refused writes');

    // Bazel encodes Basic credentials with the URL-safe base64 alphabet.
    const urlSafe = `Basic ${Buffer.from(`u:${USERS.u}`).toString('base64url')}`;
    assert.match(urlSafe, /[-_]/, 'the value must hold URL-safe characters');
    await unary(plain.cas, 'BatchUpdateBlobs', update, withAuth(urlSafe));
    const read = await unary<{ responses: { data: Buffer }[] }>(
      plain.cas,
      'BatchReadBlobs',
      { digests: [digest] },
      withAuth(bearer(fx.tokens['reader']!)),
    );
    assert.deepEqual(Buffer.from(read.responses[0]!.data), data);
  } finally {
    plain.close();
  }
});

test('failures are counted by cause, and the log holds names but no password or token', async () => {
  const causes = await errorsByCause();
  for (const cause of [
    'credentials_missing',
    'credentials_malformed',
    'credentials_wrong',
    'credentials_oversized',
    'scope_denied',
    'namespace_denied',
  ])
    assert.ok((causes.get(cause) ?? 0) > 0, `${cause} counted: ${JSON.stringify([...causes])}`);
  // Request threads' lines reach the embedder's logger by message: wait for them.
  let log = '';
  for (let i = 0; i < 50 && !log.includes('"identity":"token:writer"'); i++) {
    server.flushLogs();
    log = await readFile(logFile, 'utf8');
    await sleep(100);
  }
  assert.match(log, /"identity":"user:alice"/);
  assert.match(log, /"identity":"token:writer"/);
  for (const secret of [...Object.values(USERS), ...Object.values(fx.tokens), 'nope'])
    assert.ok(!log.includes(secret), `the log holds a secret (${secret.slice(0, 3)}...)`);
  assert.ok(!/authorization/i.test(log), 'no Authorization value is logged');
});

test('--allow-unauthenticated-reads: anonymous clients read, never write', async () => {
  const s = await startTestServer({ htpasswdFile: fx.htpasswdFile, allowUnauthenticatedReads: 'on' });
  try {
    const b = Buffer.from('anonymous reads');
    const path = `/cas/${sha256(b)}`;
    assert.equal((await rawRequest(s.url, 'GET', path)).status, 404, 'an anonymous read is a miss, not a refusal');
    const anonymousPut = await rawRequest(s.url, 'PUT', path, b);
    assert.equal(anonymousPut.status, 401);
    assert.equal((await rawRequest(s.url, 'PUT', path, b, { authorization: fx.basic('alice') })).status, 200);
    assert.deepEqual((await rawRequest(s.url, 'GET', path)).body, b);
  } finally {
    await s.close();
  }
});

test('an address that keeps failing waits longer for each refusal; good credentials never wait', async () => {
  const s = await startTestServer({ htpasswdFile: fx.htpasswdFile, workers: '1' });
  try {
    const timed = async (authorization: string) => {
      const t = performance.now();
      const r = await rawRequest(s.url, 'GET', `/cas/${sha256('x')}`, undefined, { authorization });
      return { status: r.status, ms: performance.now() - t };
    };
    const times: number[] = [];
    for (let i = 0; i < 13; i++) times.push((await timed(fx.basic('alice', `guess-${i}`))).ms);
    assert.ok(times[12]! >= 350, `the 13th refusal waited ${times[12]} ms`);
    assert.ok(times[12]! > times[1]! + 300, `refusals slow down: ${times.map(Math.round).join(', ')} ms`);
    const good = await timed(fx.basic('alice'));
    assert.equal(good.status, 404);
    assert.ok(good.ms < 300, `good credentials waited ${good.ms} ms`);
  } finally {
    await s.close();
  }
});

test('client certificates are identities with grants of their own; others get the defaults', async () => {
  const pki = await makeTestPki();
  const server = await pki.issue(1);
  const dir = await mkdtemp(join(tmpdir(), 'hoard-cert-grants-'));
  const accessFile = join(dir, 'access.yaml');
  await writeFile(
    accessFile,
    'certificates:\n  - { name: agent-ro, scopes: [read] }\ndefaults: { scopes: [read, write], namespaces: [main] }\n',
  );
  const s = await startTestServer({
    tlsCertFile: server.certFile,
    tlsKeyFile: server.keyFile,
    tlsCaFile: pki.caFile,
    accessFile,
  });
  try {
    const readOnly = await pki.issueClient('agent-ro');
    const other = await pki.issueClient('agent-7');
    const b = Buffer.from('written over mTLS');
    const send = (method: string, path: string, cert: { cert: Buffer; key: Buffer }, body?: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(`${s.url}${path}`, { method, ca: pki.ca, ...cert, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    assert.equal(await send('PUT', `/main/cas/${sha256(b)}`, readOnly, b), 403, 'agent-ro has no write scope');
    assert.equal(await send('PUT', `/other/cas/${sha256(b)}`, other, b), 403, 'the defaults name main only');
    assert.equal(await send('PUT', `/main/cas/${sha256(b)}`, other, b), 200);
    assert.equal(await send('GET', `/main/cas/${sha256(b)}`, readOnly), 200);
  } finally {
    await s.close();
    await pki.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a changed htpasswd or access file applies within seconds: a new user works, a removed token stops', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-reload-'));
  const htpasswdFile = join(dir, 'htpasswd');
  const accessFile = join(dir, 'access.yaml');
  await copyFile(fx.htpasswdFile, htpasswdFile);
  await copyFile(fx.accessFile, accessFile);
  const s = await startTestServer({ htpasswdFile, accessFile });
  try {
    const path = `/cas/${sha256('reload')}`;
    const status = async (authorization: string) =>
      (await rawRequest(s.url, 'GET', path, undefined, { authorization })).status;
    assert.equal(await status(bearer(fx.tokens['writer']!)), 404);
    assert.equal(await status(fx.basic('dave', 'dave-pw')), 401);

    execFileSync('htpasswd', ['-bB', htpasswdFile, 'dave', 'dave-pw']);
    const doc = parseYaml(await readFile(accessFile, 'utf8')) as { tokens: { name: string }[] };
    doc.tokens = doc.tokens.filter((t) => t.name !== 'writer');
    await writeFile(`${accessFile}.new`, stringifyYaml(doc));
    await rename(`${accessFile}.new`, accessFile);

    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await status(fx.basic('dave', 'dave-pw'))) === 404 && (await status(bearer(fx.tokens['writer']!))) === 401)
        return;
      await sleep(250);
    }
    assert.fail('the changed files were not applied within 10 s');
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});
