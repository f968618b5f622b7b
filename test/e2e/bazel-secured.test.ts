// End-to-end: the real Bazel (Debian 4.2.3) against a secured `hoard serve`.
// - HTTPS with the credentials in the cache URL (Bazel sends them as Basic, URL-safe base64).
//   Bazel's HTTP client trusts the JVM's trust store only, so the test adds its own CA there
//   (keytool -cacerts) for the duration and removes it afterwards.
// - gRPC with credentials as metadata (--remote_header=authorization=...), over plain text on
//   loopback: Bazel would put a grpc:// URL's user info in :authority, which Node's HTTP/2
//   refuses (docs/SECURITY.md), and Debian's Bazel cannot open grpcs:// at all (no ALPN in its
//   netty on JDK 17), so TLS on the gRPC listener is proven with grpc-js in
//   test/integration/tls.test.ts.
// - A read-only identity with --noremote_upload_local_results gets every hit and changes
//   nothing in the store.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { after, before, describe, test, type TestContext } from 'node:test';
import { spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { makeAccessFixtures, USERS, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { makeTestPki, type TestPki } from '../helpers/test-pki.ts';
import { coldDefault, warmDefault, type ScenarioOptions } from './bazel-scenarios.ts';
import { createBazelWorkspace, type BazelWorkspace, type BuildResult } from './bazel-workspace.ts';
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
    fx = await makeAccessFixtures();
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
    const expected = await coldDefault(ws, options(t, hoard, withUser('alice', '/secured'), [], salt));
    const filled = await usage();
    assert.ok(filled.entries > 0, 'the writer stored nothing');
    await warmDefault(
      ws,
      options(t, hoard, withUser('reader', '/secured'), ['--noremote_upload_local_results'], salt),
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
      const expected = await coldDefault(ws, options(t, plain, url, [basic], salt));
      const filled = await status();
      assert.ok(filled.entries > 0, 'the writer stored nothing');
      const reader = `--remote_header=authorization=Bearer ${fx.tokens['reader']}`;
      await warmDefault(
        ws,
        options(t, plain, url, [reader, '--noremote_upload_local_results'], salt),
        expected,
        'read-only warm',
      );
      assert.deepEqual(await status(), filled, 'the read-only build changed the store');
    } finally {
      await plain.dispose();
    }
  });
});

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

function options(
  t: TestContext,
  hoard: HoardProcess,
  remoteCache: string,
  flags: readonly string[],
  salt: string,
): ScenarioOptions {
  return {
    salt,
    remoteCache,
    flags,
    server: hoard,
    onBuild: (label: string, b: BuildResult) => {
      const counts =
        b.summary === undefined ? 'no summary' : [...b.summary.byRunner].map(([k, v]) => `${v} ${k}`).join(', ');
      t.diagnostic(`${label}: exit ${b.code}, ${(b.durationMs / 1000).toFixed(1)} s, ${counts}`);
    },
  };
}
