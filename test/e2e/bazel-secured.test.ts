// End-to-end: the real Bazel (Debian 4.2.3) against a secured `hoard serve`.
// - HTTPS with the credentials in the cache URL (Bazel sends them as Basic, URL-safe base64).
//   Bazel's HTTP client trusts the JVM's trust store only, so the test adds its own CA there
//   (keytool -cacerts) for the duration and removes it afterwards.
// - gRPC with credentials as metadata (--remote_header=authorization=...), and in the URL
//   (grpc://user:password@host, which Bazel sends in :authority and hoard's plain-text
//   listener moves to metadata), over plain text on loopback: Debian's Bazel cannot open
//   grpcs:// at all (no ALPN in its netty on JDK 17), so TLS on the gRPC listener is proven
//   with grpc-js in test/integration/tls.test.ts.
// - A read-only identity with --noremote_upload_local_results gets every hit and changes
//   nothing in the store.
// - Pull-request isolation: main's identity fills `main`, a pull request's identity gets
//   main's hits through --namespace-fallback, caches its own builds in its namespace, and
//   its uploads to `main` are refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { DEFAULT_TOKENS, makeAccessFixtures, USERS, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { makeTestPki, type TestPki } from '../helpers/test-pki.ts';
import { coldDefault, reportedOptions, warmDefault } from './bazel-scenarios.ts';
import { createBazelWorkspace, type BazelWorkspace } from './bazel-workspace.ts';
import { findClient, newSalt } from './clients.ts';

const bazel = findClient('bazel', ['--version'], 'apt-get install bazel-bootstrap');
const keytool = findClient('keytool', ['-help'], 'apt-get install default-jdk-headless');
const skip = bazel.skip || keytool.skip;

/** Adds `caFile` to the JVM trust store under a fresh alias; returns its removal. */
function trustInJvm(caFile: string): () => void {
  const alias = `hoard-test-${process.pid}-${Date.now().toString(36)}`;
  const keytoolArgs = ['-noprompt', '-cacerts', '-storepass', 'changeit', '-alias', alias];
  execFileSync('keytool', ['-importcert', ...keytoolArgs, '-file', caFile], { stdio: 'pipe' });
  return () => execFileSync('keytool', ['-delete', ...keytoolArgs], { stdio: 'pipe' });
}

describe('Bazel against a secured hoard', { skip }, () => {
  let ws: BazelWorkspace;
  let pki: TestPki;
  let fx: AccessFixtures;
  let hoard: HoardProcess;
  let untrust: (() => void) | undefined;

  before(async () => {
    pki = await makeTestPki();
    fx = await makeAccessFixtures({
      ...DEFAULT_TOKENS,
      'writer-main': { scopes: ['read', 'write'], namespaces: ['main'] },
    });
    const cert = await pki.issue(1);
    untrust = trustInJvm(pki.caFile);
    ws = await createBazelWorkspace();
    hoard = await spawnHoard([
      '--tls-cert-file',
      cert.certFile,
      '--tls-key-file',
      cert.keyFile,
      '--htpasswd-file',
      fx.htpasswdFile,
      '--access-file',
      fx.accessFile,
    ]);
  });
  after(async () => {
    await ws?.dispose();
    await hoard?.dispose();
    untrust?.();
    await fx?.close();
    await pki?.dispose();
  });

  const usage = () => storeUsage(hoard.httpUrl, fx.tokens['admin']!, pki.ca);

  const withUser = (user: keyof typeof USERS, path: string): string => {
    const u = new URL(hoard.httpUrl);
    return `https://${user}:${encodeURIComponent(USERS[user])}@${u.host}${path}`;
  };

  test('HTTPS, credentials in the URL: a writer fills the cache, a read-only user gets 100% hits and writes nothing', async (t) => {
    assert.match(hoard.httpUrl, /^https:/);
    const salt = newSalt('bazel-https');
    const expected = await coldDefault(ws, reportedOptions(t, hoard, withUser('alice', '/secured'), [], salt));
    const filled = await usage();
    assert.ok(filled.entries > 0, 'the writer stored nothing');
    await warmDefault(
      ws,
      reportedOptions(t, hoard, withUser('reader', '/secured'), ['--noremote_upload_local_results'], salt),
      expected,
      'read-only warm',
    );
    assert.deepEqual(await usage(), filled, 'the read-only build changed the store');
  });

  test('gRPC, credentials as metadata: Basic fills the cache, a read-only bearer token gets 100% hits and writes nothing', async (t) => {
    // Plain-text gRPC (on loopback): this Bazel cannot speak grpcs://.
    const plain = await spawnHoard(['--htpasswd-file', fx.htpasswdFile, '--access-file', fx.accessFile]);
    try {
      const url = `grpc://${plain.grpcTarget}`;
      const status = (): Promise<{ entries: number; bytes: number }> => storeUsage(plain.httpUrl, fx.tokens['admin']!);
      const salt = newSalt('bazel-grpc-auth');
      const basic = `--remote_header=authorization=${fx.basic('alice')}`;
      const expected = await coldDefault(ws, reportedOptions(t, plain, url, [basic], salt));
      const filled = await status();
      assert.ok(filled.entries > 0, 'the writer stored nothing');
      const reader = `--remote_header=authorization=Bearer ${fx.tokens['reader']}`;
      await warmDefault(
        ws,
        reportedOptions(t, plain, url, [reader, '--noremote_upload_local_results'], salt),
        expected,
        'read-only warm',
      );
      assert.deepEqual(await status(), filled, 'the read-only build changed the store');
    } finally {
      await plain.dispose();
    }
  });

  test("pull-request isolation: main fills `main`; a PR build gets main's hits, caches its own in pr-7, and cannot write main", async (t) => {
    const plain = await spawnHoard(['--access-file', fx.accessFile, '--namespace-fallback', 'pr-*=main']);
    try {
      const url = `grpc://${plain.grpcTarget}`;
      const header = (token: string) => `--remote_header=authorization=Bearer ${fx.tokens[token]}`;
      const namespaces = () => namespaceUsage(plain.httpUrl, fx.tokens['admin']!);
      const asMain = [header('writer-main'), '--remote_instance_name=main'];
      const asPr = (instance: string) => [header('pull-requests'), `--remote_instance_name=${instance}`];

      const salt = newSalt('bazel-pr-main');
      const expected = await coldDefault(ws, reportedOptions(t, plain, url, asMain, salt));
      const afterMain = await namespaces();
      assert.ok((afterMain.get('main') ?? 0) > 0, 'main stored nothing');

      // The PR builds the same code: every action is a hit read through pr-7 from main.
      await warmDefault(ws, reportedOptions(t, plain, url, asPr('pr-7'), salt), expected, 'PR warm from main');
      assert.deepEqual(await namespaces(), afterMain, "a PR build of main's code wrote something");

      // The PR changes the code: its results are cached in pr-7, main is untouched.
      const prSalt = newSalt('bazel-pr-change');
      await coldDefault(ws, reportedOptions(t, plain, url, asPr('pr-7'), prSalt));
      const afterPr = await namespaces();
      assert.ok((afterPr.get('pr-7') ?? 0) > 0, 'the PR cached nothing of its own');
      assert.equal(afterPr.get('main'), afterMain.get('main'), "the PR's build changed main");

      // The PR points at main itself, uploads on: every upload is refused, main is unchanged.
      await ws.cleanExpunge();
      const poison = await ws.build({
        salt: newSalt('bazel-pr-poison'),
        remoteCache: url,
        flags: asPr('main'),
        targets: ['//:everything'],
      });
      const warnings = poison.output.split('\n').filter((l) => /WARNING|PERMISSION_DENIED/.test(l));
      t.diagnostic(`PR writing main: exit ${poison.code}; ${warnings.slice(0, 3).join(' | ')}`);
      assert.ok(
        (await deniedWrites(plain.httpUrl, fx.tokens['admin']!)) > 0,
        `hoard refused no write to main:\n${poison.output.slice(-3000)}`,
      );
      assert.equal((await namespaces()).get('main'), afterMain.get('main'), 'a PR build wrote main');
    } finally {
      await plain.dispose();
    }
  });

  test('gRPC, credentials in the URL (grpc://user:password@host): cold then warm with 100% hits; a wrong password gets nothing', async (t) => {
    // Bazel sends the URL's user info in :authority; the plain-text listener moves it to
    // authorization metadata (src/frontends/reapi/authority-transcoder.ts).
    const plain = await spawnHoard(['--htpasswd-file', fx.htpasswdFile, '--access-file', fx.accessFile]);
    try {
      const url = (password: string) => `grpc://alice:${encodeURIComponent(password)}@${plain.grpcTarget}`;
      const salt = newSalt('bazel-grpc-userinfo');
      const expected = await coldDefault(ws, reportedOptions(t, plain, url(USERS.alice), [], salt));
      await warmDefault(ws, reportedOptions(t, plain, url(USERS.alice), [], salt), expected);

      // One action of the same build (cached by the cold build) with a wrong password: the
      // cache refuses its lookup and upload. (One action: a few refusals, under the 10 after
      // which hoard slows an address's answers down.)
      await ws.cleanExpunge();
      const refusedBefore = await refusals(plain.httpUrl, fx.tokens['admin']!, 'credentials_wrong');
      const refused = reportedOptions(t, plain, url('not-alice-pw'), [], salt);
      const wrong = await ws.build({ ...refused, targets: ['//:step1'] });
      refused.onBuild?.('wrong password', wrong);
      // Bazel 4.2.3 warns and builds locally when its cache refuses it (exit 0): what matters
      // is that the cache gave it nothing.
      assert.match(wrong.output, /UNAUTHENTICATED/, 'Bazel reported no refusal');
      assert.ok(
        wrong.code !== 0 || wrong.summary?.remoteCacheHits === 0,
        `a build with a wrong password got cache hits:\n${wrong.output.slice(-3000)}`,
      );
      assert.ok(
        (await refusals(plain.httpUrl, fx.tokens['admin']!, 'credentials_wrong')) > refusedBefore,
        'hoard counted no wrong credentials',
      );
      assert.ok(!plain.output().includes(USERS.alice), 'the password reached the log');
    } finally {
      await plain.dispose();
    }
  });
});

/** How many calls hoard refused as namespace_denied, from /metrics with an admin token. */
async function deniedWrites(httpUrl: string, adminToken: string): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  let n = 0;
  for (const m of (await res.text()).matchAll(/^hoard_errors_total\{[^}]*cause="namespace_denied"[^}]*\} (\d+)/gm))
    n += Number(m[1]);
  return n;
}

/** How many calls hoard refused for `cause`, from /metrics with an admin token. */
async function refusals(httpUrl: string, adminToken: string, cause: string): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  let n = 0;
  for (const m of (await res.text()).matchAll(/^hoard_errors_total\{([^}]*)\} (\d+)/gm))
    if (m[1]!.includes(`cause="${cause}"`)) n += Number(m[2]);
  return n;
}

/**
 * Entries per namespace, from /status (store.namespaces) with an admin token. The store
 * rebuilds that list at most once a second: wait that long so it has seen the last build.
 */
async function namespaceUsage(httpUrl: string, adminToken: string): Promise<Map<string, number>> {
  await sleep(1200);
  const res = await fetch(`${httpUrl}/status`, { headers: { authorization: `Bearer ${adminToken}` } });
  const doc = (await res.json()) as { store: { namespaces?: { namespace: string; entries: number }[] } };
  assert.ok(doc.store.namespaces !== undefined, '/status has no store.namespaces');
  return new Map(doc.store.namespaces.map((n) => [n.namespace, n.entries]));
}

/** The store's entries and bytes, from /status with an admin token (over HTTPS with `ca`). */
function storeUsage(httpUrl: string, adminToken: string, ca?: Buffer): Promise<{ entries: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const get = httpUrl.startsWith('https:') ? httpsGet : httpGet;
    const req = get(`${httpUrl}/status`, { ca, headers: { authorization: `Bearer ${adminToken}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => {
        const store = (JSON.parse(body) as { store: { entries: number; bytes: number } }).store;
        resolve({ entries: store.entries, bytes: store.bytes });
      });
    });
    req.on('error', reject);
  });
}
