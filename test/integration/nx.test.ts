// The Nx remote cache (`/v1/cache/<hash>`) against a real listening server: the statuses the
// Nx client accepts (200 stored, 409 exists, 403 not stored, 404 miss, 401 text/plain), the
// hostile cases (bad tokens, malformed hashes, lying or cut uploads, oversize declarations),
// namespaces by URL prefix, and cache faults that must never reach Nx as an error status
// (Nx ends the whole run on one) while hoard still counts them by their real cause.
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
let token: (name: string) => Record<string, string>;
before(async () => {
  fx = await makeAccessFixtures();
  s = await startTestServer({ ...fx.flags });
  token = (name) => ({ authorization: `Bearer ${fx.tokens[name]!}` });
});
after(async () => {
  await s.close();
  await fx.close();
});

let seq = 0;
/** A fresh Nx-like hash (decimal, as Nx spells them). */
const newHash = () => `${Date.now()}${process.pid}${seq++}`;

test('PUT stores with exactly 200, GET and HEAD answer it; a second PUT is 409 and changes nothing', async () => {
  const hash = newHash();
  const path = `/v1/cache/${hash}`;
  const body = Buffer.from('nx archive bytes \x00\xff');
  const miss = await rawRequest(s.url, 'GET', path, undefined, token('writer'));
  assert.equal(miss.status, 404);
  const put = await rawRequest(s.url, 'PUT', path, body, {
    ...token('writer'),
    'content-type': 'application/octet-stream',
  });
  assert.equal(put.status, 200, put.body.toString());
  const got = await rawRequest(s.url, 'GET', path, undefined, token('reader'));
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'application/octet-stream');
  assert.deepEqual(got.body, body);
  const head = await rawRequest(s.url, 'HEAD', path, undefined, token('reader'));
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(body.length));

  const again = await rawRequest(s.url, 'PUT', path, Buffer.from('another body'), token('writer'));
  assert.equal(again.status, 409);
  assert.deepEqual(
    (await rawRequest(s.url, 'GET', path, undefined, token('reader'))).body,
    body,
    'records are immutable',
  );
  // An empty record is a record.
  const empty = `/v1/cache/${newHash()}`;
  assert.equal((await rawRequest(s.url, 'PUT', empty, Buffer.alloc(0), token('writer'))).status, 200);
  assert.equal((await rawRequest(s.url, 'GET', empty, undefined, token('writer'))).body.length, 0);
  const post = await rawRequest(s.url, 'POST', path, body, token('writer'));
  assert.equal(post.status, 405);
  assert.equal(post.headers['allow'], 'GET, HEAD, PUT');
});

test('the URL prefix before /v1/cache/ is the namespace: records never cross prefixes', async () => {
  const hash = newHash();
  const main = Buffer.from('main record');
  const other = Buffer.from('other record');
  assert.equal((await rawRequest(s.url, 'PUT', `/main/v1/cache/${hash}`, main, token('writer'))).status, 200);
  assert.equal((await rawRequest(s.url, 'GET', `/v1/cache/${hash}`, undefined, token('writer'))).status, 404);
  assert.equal((await rawRequest(s.url, 'GET', `/other/v1/cache/${hash}`, undefined, token('writer'))).status, 404);
  // Not 409: the other namespace has no record of this hash.
  assert.equal((await rawRequest(s.url, 'PUT', `/other/v1/cache/${hash}`, other, token('writer'))).status, 200);
  assert.deepEqual((await rawRequest(s.url, 'GET', `/main/v1/cache/${hash}`, undefined, token('writer'))).body, main);
  assert.deepEqual((await rawRequest(s.url, 'GET', `/other/v1/cache/${hash}`, undefined, token('writer'))).body, other);
  // A token bound to one namespace writes there and nowhere else.
  const team = `/team-a/v1/cache/${hash}`;
  assert.equal((await rawRequest(s.url, 'PUT', team, main, token('team-a'))).status, 200);
  const elsewhere = await rawRequest(s.url, 'PUT', `/team-b/v1/cache/${hash}`, main, token('team-a'));
  assert.equal(elsewhere.status, 403);
  // Its reads elsewhere are misses, not a status Nx would end the run on ("Misconfigured
  // ... 403"): the route words the access refusal.
  const read = await rawRequest(s.url, 'GET', `/main/v1/cache/${hash}`, undefined, token('team-a'));
  assert.equal(read.status, 404);
  assert.match(read.body.toString(), /^permission_denied: /);
  assert.equal((await rawRequest(s.url, 'GET', `/team-b/v1/cache/${hash}`, undefined, token('writer'))).status, 404);
});

test('a missing or wrong token is 401 in exactly text/plain; a read-only token reads, and its PUT is 403 storing nothing', async () => {
  // Exactly `text/plain`: Nx calls `text/plain; charset=utf-8` a misconfigured endpoint.
  const hash = newHash();
  const path = `/v1/cache/${hash}`;
  const body = Buffer.from('secured record');
  for (const headers of [{}, { authorization: 'Bearer hoard_not-a-token' }, { authorization: 'Bearer ' }]) {
    for (const [method, b] of [
      ['PUT', body],
      ['GET', undefined],
    ] as const) {
      const r = await rawRequest(s.url, method, path, b, headers);
      assert.equal(r.status, 401, `${method} ${JSON.stringify(headers)}`);
      assert.equal(r.headers['content-type'], 'text/plain', `${method} ${JSON.stringify(headers)}`);
      assert.match(r.body.toString(), /^unauthenticated: /);
      assert.doesNotMatch(r.body.toString(), /hoard_not-a-token/, 'no secret in an answer');
    }
  }
  const readOnly = await rawRequest(s.url, 'PUT', path, body, token('reader'));
  assert.equal(readOnly.status, 403);
  assert.equal((await rawRequest(s.url, 'GET', path, undefined, token('reader'))).status, 404, 'nothing stored');
  assert.equal((await rawRequest(s.url, 'PUT', path, body, token('writer'))).status, 200);
  assert.deepEqual((await rawRequest(s.url, 'GET', path, undefined, token('reader'))).body, body);
});

test('malformed hashes and paths are 400 and store nothing', async () => {
  const body = Buffer.from('x');
  const entries = s.server.store.usage().entries;
  for (const path of [
    '/v1/cache/..',
    '/v1/cache/a%2Fb',
    '/v1/cache/a%00b',
    '/v1/cache/a.b',
    '/v1/cache/a%20b',
    '/v1/cache/',
    '/v1/cache/a/b',
    `/v1/cache/${'1'.repeat(129)}`,
    '/main/v1/cache/%2E%2E',
  ]) {
    const r = await rawRequest(s.url, 'PUT', path, body, token('writer'));
    assert.equal(r.status, 400, path);
  }
  assert.equal(s.server.store.usage().entries, entries, 'a malformed PUT stored something');
});

test('a PUT without Content-Length is refused with 403 (not stored, not an error Nx ends the run on)', async () => {
  const path = `/v1/cache/${newHash()}`;
  const chunked = await rawRequest(s.url, 'PUT', path, Buffer.from('chunked record'), {
    ...token('writer'),
    'transfer-encoding': 'chunked',
  });
  assert.equal(chunked.status, 403);
  assert.match(chunked.body.toString(), /Content-Length/);
  assert.equal((await rawRequest(s.url, 'GET', path, undefined, token('writer'))).status, 404);
});

test('a body shorter than its Content-Length, or cut mid-body, stores nothing; the next PUT of the hash is 200, not 409', async () => {
  const writer = `Bearer ${fx.tokens['writer']!}`;
  // A lying Content-Length: 100 declared, 10 sent, then the client's side closes.
  const lying = `/v1/cache/${newHash()}`;
  const c1 = await RawConnection.open(s.url);
  await c1.writeHead('PUT', lying, { authorization: writer, 'content-length': 100 });
  await c1.write(Buffer.alloc(10, 1));
  c1.socket.end();
  await c1.closed;
  // Cut: 256 KiB declared, half sent, connection reset.
  const cut = `/v1/cache/${newHash()}`;
  const c2 = await RawConnection.open(s.url);
  await c2.writeHead('PUT', cut, { authorization: writer, 'content-length': 256 * 1024 });
  await c2.write(Buffer.alloc(128 * 1024, 2));
  await sleep(50);
  c2.socket.resetAndDestroy();
  await sleep(100);
  for (const path of [lying, cut]) {
    assert.equal((await rawRequest(s.url, 'GET', path, undefined, token('writer'))).status, 404, path);
    const whole = Buffer.alloc(1000, 3);
    assert.equal((await rawRequest(s.url, 'PUT', path, whole, token('writer'))).status, 200, path);
    assert.deepEqual((await rawRequest(s.url, 'GET', path, undefined, token('writer'))).body, whole);
  }
  await waitForErrors(() => s.server.metrics.render(), 'nx', 1, 'aborted');
});

describe('entries the store cannot take are 403 (not stored), refused before the body', () => {
  test('over --max-blob-size: 403, counted as too_large', async () => {
    const small = await startTestServer({ maxBlobSize: '1KiB' });
    try {
      const path = `/v1/cache/${newHash()}`;
      const r = await rawRequest(small.url, 'PUT', path, Buffer.alloc(2000, 1));
      assert.equal(r.status, 403);
      assert.match(r.body.toString(), /^too_large/);
      assert.equal((await rawRequest(small.url, 'GET', path)).status, 404);
      assert.equal((await rawRequest(small.url, 'PUT', path, Buffer.alloc(1000, 1))).status, 200, 'not a 409');
      await waitForErrors(() => small.server.metrics.render(), 'nx', 1, 'too_large');
    } finally {
      await small.close();
    }
  });

  test('5 GiB declared against a 1 GiB store: 403 before a byte of the body is sent', async () => {
    const bounded = await startTestServer({ maxSize: '1GiB' });
    try {
      const path = `/v1/cache/${newHash()}`;
      const c = await RawConnection.open(bounded.url);
      await c.writeHead('PUT', path, { 'content-length': 5 * 1024 ** 3 });
      const r = await c.readResponseWithin(5000);
      assert.equal(r.status, 403);
      assert.match(r.body.toString(), /^insufficient_storage/);
      c.destroy();
      assert.equal((await rawRequest(bounded.url, 'GET', path)).status, 404);
      await waitForErrors(() => bounded.server.metrics.render(), 'nx', 1, 'insufficient_storage');
    } finally {
      await bounded.close();
    }
  });
});

describe('store faults never reach Nx as an error status', () => {
  const store = new FaultyStore();
  let listener: HttpListener;
  before(async () => {
    listener = await startHttpListenerOver(store);
  });
  after(() => listener.drain(Date.now()));
  const metrics = async () => (await rawRequest(listener.url, 'GET', '/metrics')).body.toString();

  test('a failing read is a 404 miss, a failing store a 403; both counted by their real cause; then it heals', async () => {
    const path = `/v1/cache/${newHash()}`;
    const body = Buffer.from('record');
    for (const fault of [ErrorCode.Internal, ErrorCode.Corrupt, ErrorCode.Unavailable, ErrorCode.InsufficientStorage]) {
      store.fault = fault;
      const get = await rawRequest(listener.url, 'GET', path);
      assert.equal(get.status, 404, `GET under ${fault}`);
      assert.match(get.body.toString(), new RegExp(`^${fault}`), 'the answer names the real cause');
      const put = await rawRequest(listener.url, 'PUT', path, body);
      assert.equal(put.status, 403, `PUT under ${fault}`);
      await waitForErrors(metrics, 'nx', 2, fault);
    }
    store.fault = undefined;
    assert.equal((await rawRequest(listener.url, 'PUT', path, body)).status, 200);
    assert.deepEqual((await rawRequest(listener.url, 'GET', path)).body, body);
  });
});
