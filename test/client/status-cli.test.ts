// `hoard status` against a real server with access control: the tables show what /status
// says (per-protocol hits and misses, the store, the namespaces), /status's admin scope is
// required and a refusal says which, and no token is ever printed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { MAIN, runNode } from '../helpers/spawn-server.ts';
import { rawRequest, startTestServer, type TestServer } from '../helpers/test-server.ts';

let fx: AccessFixtures;
let s: TestServer;
const bearer = (name: string) => ({ authorization: `Bearer ${fx.tokens[name]!}` });

before(async () => {
  fx = await makeAccessFixtures();
  s = await startTestServer({ accessFile: fx.accessFile });
  // Gradle: a miss, a put into namespace main, a hit; Nx: a miss.
  await rawRequest(s.url, 'GET', '/main/gradle/0123abcd', undefined, bearer('writer'));
  await rawRequest(s.url, 'PUT', '/main/gradle/0123abcd', Buffer.from('gradle entry'), bearer('writer'));
  await rawRequest(s.url, 'GET', '/main/gradle/0123abcd', undefined, bearer('writer'));
  await rawRequest(s.url, 'GET', '/v1/cache/42', undefined, bearer('writer'));
  // The per-namespace list is rebuilt at most once a second.
  for (let i = 0; i < 50; i++) {
    const doc = JSON.parse((await rawRequest(s.url, 'GET', '/status', undefined, bearer('admin'))).body.toString());
    if (doc.store.namespaces?.length > 0) break;
    await sleep(100);
  }
});
after(async () => {
  await s.close();
  await fx.close();
});

const status = (...args: string[]) =>
  runNode([MAIN, 'status', '--server', s.url, ...args], { env: { ...process.env, HOARD_TOKEN: '' } });

test('with an admin token: the server, the store and hits and misses per protocol, as /status has them', async () => {
  const r = await status('--token', fx.tokens['admin']!);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse((await rawRequest(s.url, 'GET', '/status', undefined, bearer('admin'))).body.toString());
  assert.match(r.stdout, new RegExp(`^server +${s.url.replaceAll('.', '\\.')}$`, 'm'));
  assert.match(r.stdout, /^state +serving$/m);
  assert.match(r.stdout, new RegExp(`^entries +${doc.store.entries}$`, 'm'));
  assert.match(r.stdout, /^gradle +1 +1 +50\.0%$/m);
  assert.match(r.stdout, /^nx +0 +1 +0\.0%$/m);
  assert.match(r.stdout, /^all +1 +2 +33\.3%$/m);
  assert.match(r.stdout, /^main +12 B +1 +-$/m, 'the namespace main holds the one gradle entry');
  assert.ok(!r.stdout.includes(fx.tokens['admin']!) && !r.stderr.includes(fx.tokens['admin']!));

  const json = await status('--token', fx.tokens['admin']!, '--json');
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout).lookups.protocols.gradle, { hits: 1, misses: 1, hitRate: 0.5 });
});

test('without credentials, or without the admin scope, it says which and exits 1', async () => {
  const anonymous = await status();
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /authentication failed \(\/status needs an admin token or user\)/);
  const writer = await status('--token', fx.tokens['writer']!);
  assert.equal(writer.code, 1);
  assert.match(writer.stderr, /permission denied \(\/status needs the admin scope\)/);
  assert.ok(!writer.stderr.includes(fx.tokens['writer']!));
});

test('a gRPC URL is a usage error (exit 2): /status is on the HTTP port', async () => {
  const r = await runNode([MAIN, 'status', '--server', 'grpc://127.0.0.1:1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /served over http:\/\/ or https:\/\//);
});
