// Gradle's HTTP build cache (`/gradle/<key>`) against a real listening server: GET 200/404,
// PUT 200 (replacing), Basic credentials (401), the statuses that keep a Gradle build going
// (a failed load is a miss, a store that cannot be kept is 413), refusals before the body
// with `Expect: 100-continue`, hostile paths and uploads, and namespaces by URL prefix.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../../src/core/errors.ts';
import type { HttpListener } from '../../src/server/http-listener.ts';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { startHttpListenerOver } from '../helpers/http-listener-over.ts';
import { waitForErrors } from '../helpers/error-counts.ts';
import { FaultyStore } from '../helpers/faulty-store.ts';
import { RawConnection } from '../helpers/raw-http.ts';
import { rawRequest, startTestServer, type TestServer } from '../helpers/test-server.ts';

let fx: AccessFixtures;
let s: TestServer;
/** alice may read and write everywhere; reader may only read. */
let alice: Record<string, string>;
let reader: Record<string, string>;
before(async () => {
  fx = await makeAccessFixtures();
  s = await startTestServer({ ...fx.flags });
  alice = { authorization: fx.basic('alice') };
  reader = { authorization: fx.basic('reader') };
});
after(async () => {
  await s.close();
  await fx.close();
});

let seq = 0;
/** A fresh Gradle-like key (32 hex, as Gradle 4 spells them). */
const newKey = () => `${(Date.now() * 1000 + seq++).toString(16)}${process.pid.toString(16)}`.padEnd(32, '0');
const ARTIFACT = { 'content-type': 'application/vnd.gradle.build-cache-artifact.v1' };

test('GET misses with 404, PUT stores with 200 and replaces, GET and HEAD answer it', async () => {
  const path = `/gradle/${newKey()}`;
  const body = Buffer.from('gradle cache entry \x00\xff');
  assert.equal((await rawRequest(s.url, 'GET', path, undefined, alice)).status, 404);
  const put = await rawRequest(s.url, 'PUT', path, body, { ...alice, ...ARTIFACT });
  assert.equal(put.status, 200, put.body.toString());
  const got = await rawRequest(s.url, 'GET', path, undefined, reader);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, body);
  const head = await rawRequest(s.url, 'HEAD', path, undefined, reader);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(body.length));
  const newer = Buffer.from('a newer entry');
  assert.equal((await rawRequest(s.url, 'PUT', path, newer, alice)).status, 200);
  assert.deepEqual((await rawRequest(s.url, 'GET', path, undefined, alice)).body, newer);
  // Gradle 4 may stream a store without Content-Length.
  const chunked = `/gradle/${newKey()}`;
  assert.equal(
    (await rawRequest(s.url, 'PUT', chunked, body, { ...alice, 'transfer-encoding': 'chunked' })).status,
    200,
  );
  assert.deepEqual((await rawRequest(s.url, 'GET', chunked, undefined, alice)).body, body);
  const del = await rawRequest(s.url, 'DELETE', path, undefined, alice);
  assert.equal(del.status, 405);
  assert.equal(del.headers['allow'], 'GET, HEAD, PUT');
});

test('the URL prefix before /gradle/ is the namespace: entries never cross prefixes', async () => {
  const key = newKey();
  const main = Buffer.from('main entry');
  assert.equal((await rawRequest(s.url, 'PUT', `/main/gradle/${key}`, main, alice)).status, 200);
  assert.equal((await rawRequest(s.url, 'GET', `/gradle/${key}`, undefined, alice)).status, 404);
  assert.equal((await rawRequest(s.url, 'GET', `/team/x/gradle/${key}`, undefined, alice)).status, 404);
  assert.deepEqual((await rawRequest(s.url, 'GET', `/main/gradle/${key}`, undefined, reader)).body, main);
});

test('missing or wrong credentials are 401 with a Basic challenge; nothing is stored', async () => {
  const path = `/gradle/${newKey()}`;
  const body = Buffer.from('entry');
  for (const headers of [{}, { authorization: fx.basic('alice', 'guess-7f3a') }, { authorization: 'Basic !!!' }]) {
    for (const [method, b] of [
      ['PUT', body],
      ['GET', undefined],
    ] as const) {
      const r = await rawRequest(s.url, method, path, b, headers);
      assert.equal(r.status, 401, `${method} ${JSON.stringify(headers)}`);
      assert.match(String(r.headers['www-authenticate']), /Basic realm=/);
      assert.doesNotMatch(r.body.toString(), /guess-7f3a|alice-pw/, 'no secret in an answer');
    }
  }
  assert.equal((await rawRequest(s.url, 'GET', path, undefined, alice)).status, 404);
});

test('a store by read-only credentials is 413 (Gradle fails the build on 403), stores nothing, and is counted', async () => {
  const path = `/gradle/${newKey()}`;
  const r = await rawRequest(s.url, 'PUT', path, Buffer.from('entry'), reader);
  assert.equal(r.status, 413);
  assert.match(r.body.toString(), /^permission_denied: /);
  assert.equal((await rawRequest(s.url, 'GET', path, undefined, reader)).status, 404);
  await waitForErrors(() => s.server.metrics.render(), 'gradle', 1, 'scope_denied');
});

test('malformed keys and paths are 400 and store nothing', async () => {
  const entries = s.server.store.usage().entries;
  for (const path of [
    '/gradle/..',
    '/gradle/a%2Fb',
    '/gradle/a%00b',
    '/gradle/a.b',
    '/gradle/',
    '/gradle/a/b',
    `/gradle/${'a'.repeat(257)}`,
    '/main/gradle/%2e%2e',
  ]) {
    const r = await rawRequest(s.url, 'PUT', path, Buffer.from('x'), alice);
    assert.equal(r.status, 400, path);
  }
  assert.equal(s.server.store.usage().entries, entries, 'a malformed PUT stored something');
});

test('a body shorter than its Content-Length, or cut mid-body, stores nothing; the next PUT works', async () => {
  const lying = `/gradle/${newKey()}`;
  const c1 = await RawConnection.open(s.url);
  await c1.writeHead('PUT', lying, { ...alice, 'content-length': 100 });
  await c1.write(Buffer.alloc(10, 1));
  c1.socket.end();
  await c1.closed;
  const cut = `/gradle/${newKey()}`;
  const c2 = await RawConnection.open(s.url);
  await c2.writeHead('PUT', cut, { ...alice, 'content-length': 256 * 1024 });
  await c2.write(Buffer.alloc(128 * 1024, 2));
  await sleep(50);
  c2.socket.resetAndDestroy();
  await sleep(100);
  for (const path of [lying, cut]) {
    assert.equal((await rawRequest(s.url, 'GET', path, undefined, alice)).status, 404, path);
    const whole = Buffer.alloc(1000, 3);
    assert.equal((await rawRequest(s.url, 'PUT', path, whole, alice)).status, 200, path);
    assert.deepEqual((await rawRequest(s.url, 'GET', path, undefined, alice)).body, whole);
  }
  await waitForErrors(() => s.server.metrics.render(), 'gradle', 1, 'aborted');
});

describe('entries the store cannot take are 413, refused before the body', () => {
  test('over --max-blob-size: 413 declared or chunked; with Expect: 100-continue, before the body is sent', async () => {
    const small = await startTestServer({ maxBlobSize: '1KiB' });
    try {
      const path = `/gradle/${newKey()}`;
      assert.equal((await rawRequest(small.url, 'PUT', path, Buffer.alloc(2000, 1))).status, 413);
      const chunked = await rawRequest(small.url, 'PUT', path, Buffer.alloc(2000, 1), {
        'transfer-encoding': 'chunked',
      });
      assert.equal(chunked.status, 413);
      // Expect: 100-continue: the final answer comes first, never a 100, and no body is sent.
      const c = await RawConnection.open(small.url);
      await c.writeHead('PUT', path, { 'content-length': 2000, expect: '100-continue' });
      const refused = await c.readResponseWithin(5000);
      assert.equal(refused.status, 413, 'a 100 Continue came before the refusal');
      assert.match(refused.body.toString(), /^too_large/);
      c.destroy();
      // A size it takes gets its 100, then the 200 once the body is in.
      const ok = await RawConnection.open(small.url);
      await ok.writeHead('PUT', path, { 'content-length': 500, expect: '100-continue' });
      assert.equal((await ok.readResponseWithin(5000)).status, 100);
      await ok.write(Buffer.alloc(500, 4));
      assert.equal((await ok.readResponseWithin(5000)).status, 200);
      ok.destroy();
      assert.deepEqual((await rawRequest(small.url, 'GET', path)).body, Buffer.alloc(500, 4));
      await waitForErrors(() => small.server.metrics.render(), 'gradle', 3, 'too_large');
    } finally {
      await small.close();
    }
  });

  test('missing credentials with Expect: 100-continue: 401 before the body', async () => {
    const c = await RawConnection.open(s.url);
    await c.writeHead('PUT', `/gradle/${newKey()}`, { 'content-length': 1_000_000, expect: '100-continue' });
    assert.equal((await c.readResponseWithin(5000)).status, 401);
    c.destroy();
  });

  test('5 GiB declared against a 1 GiB store: 413 before a byte of the body is sent', async () => {
    const bounded = await startTestServer({ maxSize: '1GiB' });
    try {
      const path = `/gradle/${newKey()}`;
      const c = await RawConnection.open(bounded.url);
      await c.writeHead('PUT', path, { 'content-length': 5 * 1024 ** 3 });
      const r = await c.readResponseWithin(5000);
      assert.equal(r.status, 413);
      assert.match(r.body.toString(), /^insufficient_storage/);
      c.destroy();
      assert.equal((await rawRequest(bounded.url, 'GET', path)).status, 404);
      await waitForErrors(() => bounded.server.metrics.render(), 'gradle', 1, 'insufficient_storage');
    } finally {
      await bounded.close();
    }
  });
});

describe('store faults never turn Gradle’s remote cache off', () => {
  const store = new FaultyStore();
  let listener: HttpListener;
  before(async () => {
    listener = await startHttpListenerOver(store);
  });
  after(() => listener.drain(Date.now()));
  const metrics = async () => (await rawRequest(listener.url, 'GET', '/metrics')).body.toString();

  test('a failing load is a 404 miss, a failing store 413; both counted by their real cause; then it heals', async () => {
    const path = `/gradle/${newKey()}`;
    const body = Buffer.from('entry');
    for (const fault of [ErrorCode.Internal, ErrorCode.Corrupt, ErrorCode.Unavailable, ErrorCode.InsufficientStorage]) {
      store.fault = fault;
      const get = await rawRequest(listener.url, 'GET', path);
      assert.equal(get.status, 404, `GET under ${fault}`);
      assert.match(get.body.toString(), new RegExp(`^${fault}`), 'the answer names the real cause');
      const put = await rawRequest(listener.url, 'PUT', path, body);
      assert.equal(put.status, 413, `PUT under ${fault}`);
      await waitForErrors(metrics, 'gradle', 2, fault);
    }
    store.fault = undefined;
    assert.equal((await rawRequest(listener.url, 'PUT', path, body)).status, 200);
    assert.deepEqual((await rawRequest(listener.url, 'GET', path)).body, body);
  });
});
