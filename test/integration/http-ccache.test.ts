// ccache's HTTP remote storage layouts against a real listening server (docs/PROTOCOLS.md §3).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rawRequest, sha256, startTestServer, type TestServer } from '../helpers/test-server.ts';

let s: TestServer;
before(async () => {
  s = await startTestServer({ rawAcPrefixes: 'ccache-bazel' });
});
after(() => s.close());

const key = sha256('ccache key').slice(0, 40);

test('layout=subdirs and layout=flat name the same raw entry; GET/HEAD/PUT/DELETE', async () => {
  const entry = Buffer.from('ccache result, not a digest of anything');
  assert.equal((await rawRequest(s.url, 'GET', `/cc/${key.slice(0, 2)}/${key.slice(2)}`)).status, 404);
  const put = await rawRequest(s.url, 'PUT', `/cc/${key.slice(0, 2)}/${key.slice(2)}`, entry, {
    'content-type': 'application/octet-stream',
  });
  assert.equal(put.status, 200);
  const head = await rawRequest(s.url, 'HEAD', `/cc/${key}`);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(entry.length));
  assert.deepEqual((await rawRequest(s.url, 'GET', `/cc/${key}`)).body, entry);
  // Overwrite is allowed (raw keys are not content-addressed).
  const second = Buffer.from('newer');
  assert.equal((await rawRequest(s.url, 'PUT', `/cc/${key}`, second)).status, 200);
  assert.deepEqual((await rawRequest(s.url, 'GET', `/cc/${key.slice(0, 2)}/${key.slice(2)}`)).body, second);
  // Another prefix is another namespace.
  assert.equal((await rawRequest(s.url, 'GET', `/other/${key}`)).status, 404);
  assert.equal((await rawRequest(s.url, 'DELETE', `/cc/${key}`)).status, 200);
  assert.equal((await rawRequest(s.url, 'GET', `/cc/${key}`)).status, 404);
  assert.equal((await rawRequest(s.url, 'DELETE', `/cc/${key}`)).status, 404);
  const post = await rawRequest(s.url, 'POST', `/cc/${key}`, entry);
  assert.equal(post.status, 405);
  assert.equal(post.headers['allow'], 'GET, HEAD, PUT, DELETE');
});

test('a chunked upload over --max-blob-size is refused with 413 and stores nothing', async () => {
  const small = await startTestServer({ maxBlobSize: '1KiB' });
  try {
    const path = `/cc/${key}`;
    const r = await rawRequest(small.url, 'PUT', path, Buffer.alloc(10_000, 7), { 'transfer-encoding': 'chunked' });
    assert.equal(r.status, 413);
    assert.match(r.body.toString(), /^too_large/);
    assert.equal((await rawRequest(small.url, 'GET', path)).status, 404);
    assert.equal(small.server.store.usage().entries, 0);
  } finally {
    await small.close();
  }
});

test('a prefix-less key and a chunked upload work', async () => {
  const entry = Buffer.from('chunked body');
  const r = await rawRequest(s.url, 'PUT', `/${key}`, entry, { 'transfer-encoding': 'chunked' });
  assert.equal(r.status, 200);
  assert.deepEqual((await rawRequest(s.url, 'GET', `/${key}`)).body, entry);
});

test('layout=bazel under a raw AC prefix stores ccache bytes under /ac/', async () => {
  const padded = key + key.slice(0, 24);
  const entry = Buffer.from([1, 2, 3, 0xff]);
  assert.equal((await rawRequest(s.url, 'PUT', `/ccache-bazel/ac/${padded}`, entry)).status, 200);
  assert.deepEqual((await rawRequest(s.url, 'GET', `/ccache-bazel/ac/${padded}`)).body, entry);
});

test('ccache 4.x key spelling (2 hex + 31 base32hex) works in both layouts', async () => {
  const dir = 'b8';
  const rest = 'ccdnf7fsrpja0bqg6js8itg2f6j1o4e';
  const entry = Buffer.from('base32hex-keyed entry');
  assert.equal((await rawRequest(s.url, 'PUT', `/cc/${dir}/${rest}`, entry)).status, 200);
  assert.deepEqual((await rawRequest(s.url, 'GET', `/cc/${dir}${rest}`)).body, entry);
  // Letters beyond base32hex's alphabet are not a key.
  assert.equal((await rawRequest(s.url, 'GET', `/cc/${dir}/${rest.replace('c', 'z')}`)).status, 400);
});

test('a ccache key whose first two digits are "ac" is a ccache entry, not a Bazel AC path', async () => {
  // Found by the real ccache in CI: key ac790t… in layout=subdirs is PUT to <prefix>/ac/790t…
  const entry = Buffer.from('ccache entry that is not an ActionResult');
  for (const rest of ['790t62vvktte2pj97el06glu2tcoac8', sha256('x').slice(0, 38)]) {
    assert.equal((await rawRequest(s.url, 'GET', `/cc/ac/${rest}`)).status, 404);
    assert.equal((await rawRequest(s.url, 'PUT', `/cc/ac/${rest}`, entry)).status, 200);
    assert.deepEqual((await rawRequest(s.url, 'GET', `/cc/ac${rest}`)).body, entry);
  }
  // A Bazel AC path keeps its own rules: a malformed hash is still a 400 there.
  assert.equal((await rawRequest(s.url, 'GET', '/cc/ac/not-a-hash')).status, 400);
});

test('a 40-hex key right under ac/ or cas/ is a Bazel path with a wrong hash (400), never an unverified ccache entry', async () => {
  const notAnActionResult = Buffer.from('not an ActionResult');
  for (const dir of ['ac', 'cas']) {
    const put = await rawRequest(s.url, 'PUT', `/x/${dir}/${key}`, notAnActionResult);
    assert.equal(put.status, 400);
    assert.match(put.body.toString(), /^invalid_argument/);
    assert.equal((await rawRequest(s.url, 'GET', `/x/${dir}/${key}`)).status, 400);
    // Nothing was stored under the ccache key either.
    assert.equal((await rawRequest(s.url, 'GET', `/x/${key.slice(0, 2)}/${key.slice(2)}`)).status, 404);
  }
  // A 64-hex Bazel path is never a ccache key, and a bad Bazel hash is still a precise 400.
  assert.equal((await rawRequest(s.url, 'GET', `/x/cas/${sha256('absent')}`)).status, 404);
  assert.match((await rawRequest(s.url, 'GET', `/x/cas/${key}0`)).body.toString(), /^invalid_argument/);
});
