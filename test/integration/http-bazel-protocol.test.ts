// Bazel's HTTP cache protocol against a real listening server: every status code of
// docs/PROTOCOLS.md §1.2, Range, prefix namespaces, AC validation and completeness (rule 6),
// and bad input (rule 7: precise status, nothing stored).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { acKey } from '../../src/core/keys.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { RawConnection } from '../helpers/raw-http.ts';
import { rawRequest, sha256, startTestServer, type TestServer } from '../helpers/test-server.ts';

function actionResult(files: { hash: string; size: number }[]): Buffer {
  const t = protoType(`${REAPI}.ActionResult`);
  const msg = t.create({
    outputFiles: files.map((f, i) => ({ path: `out/${i}`, digest: { hash: f.hash, sizeBytes: f.size } })),
    exitCode: 0,
  });
  return Buffer.from(t.encode(msg).finish());
}

describe('Bazel HTTP protocol', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxBlobSize: '1MiB' });
  });
  after(() => s.close());

  test('CAS: miss 404, PUT 200 with a small body, GET 200 with Content-Length, HEAD 200', async () => {
    const blob = Buffer.from('the quick brown fox');
    const h = sha256(blob);
    assert.equal((await rawRequest(s.url, 'GET', `/cas/${h}`)).status, 404);
    assert.equal((await rawRequest(s.url, 'HEAD', `/cas/${h}`)).status, 404);
    const put = await rawRequest(s.url, 'PUT', `/cas/${h}`, blob);
    assert.equal(put.status, 200);
    assert.ok(put.body.length < 10 * 1024);
    const get = await rawRequest(s.url, 'GET', `/cas/${h}`);
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-length'], String(blob.length));
    assert.deepEqual(get.body, blob);
    const head = await rawRequest(s.url, 'HEAD', `/cas/${h}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(blob.length));
    assert.equal(head.body.length, 0);
    // A repeated PUT of a present blob is still exactly 200.
    assert.equal((await rawRequest(s.url, 'PUT', `/cas/${h}`, blob)).status, 200);
  });

  test('the empty blob is accepted and served', async () => {
    const h = sha256('');
    assert.equal((await rawRequest(s.url, 'PUT', `/cas/${h}`, Buffer.alloc(0))).status, 200);
    const get = await rawRequest(s.url, 'GET', `/cas/${h}`);
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-length'], '0');
  });

  test('wrong hash and malformed hashes are 400 with a short text body, nothing stored', async () => {
    const before_ = s.server.store.usage().entries;
    const blob = Buffer.from('mismatch');
    const wrong = sha256('something else');
    const r = await rawRequest(s.url, 'PUT', `/cas/${wrong}`, blob);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /digest_mismatch/);
    assert.ok(r.body.length < 1024);
    assert.equal((await rawRequest(s.url, 'GET', `/cas/${wrong}`)).status, 404);
    for (const bad of ['abc', sha256('x').toUpperCase(), `${sha256('x')}0`, 'g'.repeat(64)]) {
      assert.equal((await rawRequest(s.url, 'PUT', `/cas/${bad}`, blob)).status, 400, bad);
      assert.equal((await rawRequest(s.url, 'GET', `/ac/${bad}`)).status, 400, bad);
    }
    assert.equal(s.server.store.usage().entries, before_);
  });

  test('unknown methods are 405 with Allow; unknown paths 400', async () => {
    const r = await rawRequest(s.url, 'DELETE', `/cas/${sha256('x')}`);
    assert.equal(r.status, 405);
    assert.equal(r.headers['allow'], 'GET, HEAD, PUT');
    assert.equal((await rawRequest(s.url, 'POST', `/ac/${sha256('x')}`, Buffer.from('x'))).status, 405);
    assert.equal((await rawRequest(s.url, 'GET', '/nothing/here')).status, 400);
  });

  test('too large is 413, oversized headers 431, missing Content-Length 411', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 7);
    const r = await rawRequest(s.url, 'PUT', `/cas/${sha256(big)}`, big);
    assert.equal(r.status, 413);
    assert.equal((await rawRequest(s.url, 'GET', `/cas/${sha256(big)}`)).status, 404);
    const huge = await rawRequest(s.url, 'GET', `/cas/${sha256('x')}`, undefined, { 'x-filler': 'a'.repeat(20_000) });
    assert.equal(huge.status, 431);
    const chunked = await rawRequest(s.url, 'PUT', `/cas/${sha256('c')}`, Buffer.from('c'), {
      'transfer-encoding': 'chunked',
    });
    assert.equal(chunked.status, 411);
  });

  test('Range on CAS GET: 206 with Content-Range for N-, N-M and -N; 416 when unsatisfiable', async () => {
    const blob = Buffer.from('0123456789abcdef');
    const h = sha256(blob);
    await rawRequest(s.url, 'PUT', `/cas/${h}`, blob);
    const from = await rawRequest(s.url, 'GET', `/cas/${h}`, undefined, { range: 'bytes=10-' });
    assert.equal(from.status, 206);
    assert.equal(from.headers['content-range'], `bytes 10-15/16`);
    assert.equal(from.body.toString(), 'abcdef');
    const mid = await rawRequest(s.url, 'GET', `/cas/${h}`, undefined, { range: 'bytes=2-4' });
    assert.equal(mid.status, 206);
    assert.equal(mid.body.toString(), '234');
    const suffix = await rawRequest(s.url, 'GET', `/cas/${h}`, undefined, { range: 'bytes=-3' });
    assert.equal(suffix.body.toString(), 'def');
    const past = await rawRequest(s.url, 'GET', `/cas/${h}`, undefined, { range: 'bytes=16-' });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], 'bytes */16');
    const multi = await rawRequest(s.url, 'GET', `/cas/${h}`, undefined, { range: 'bytes=0-1,3-4' });
    assert.equal(multi.status, 200);
    assert.deepEqual(multi.body, blob);
  });

  test('prefixes are namespaces', async () => {
    const blob = Buffer.from('namespaced');
    const h = sha256(blob);
    assert.equal((await rawRequest(s.url, 'PUT', `/team-a/x/cas/${h}`, blob)).status, 200);
    assert.equal((await rawRequest(s.url, 'GET', `/team-a/x/cas/${h}`)).status, 200);
    assert.equal((await rawRequest(s.url, 'GET', `/team-b/cas/${h}`)).status, 404);
    assert.equal((await rawRequest(s.url, 'GET', `/cas/${h}`)).status, 404);
  });

  test('AC: PUT must be an ActionResult; GET is a hit only when every output is present (rule 6)', async () => {
    const out = Buffer.from('output file bytes');
    const ar = actionResult([{ hash: sha256(out), size: out.length }]);
    const key = sha256('action 1');
    const notAr = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const bad = await rawRequest(s.url, 'PUT', `/ac/${key}`, notAr);
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /ActionResult/);
    assert.equal((await rawRequest(s.url, 'PUT', `/ac/${key}`, ar)).status, 200);
    // The output blob is missing: not a hit.
    assert.equal((await rawRequest(s.url, 'GET', `/ac/${key}`)).status, 404);
    assert.equal((await rawRequest(s.url, 'HEAD', `/ac/${key}`)).status, 404);
    await rawRequest(s.url, 'PUT', `/cas/${sha256(out)}`, out);
    const hit = await rawRequest(s.url, 'GET', `/ac/${key}`);
    assert.equal(hit.status, 200);
    assert.deepEqual(hit.body, ar);
  });

  test('AC PUT: the ActionResult validation of REAPI UpdateActionResult, 400 naming the field, nothing stored', async () => {
    const key = sha256('an invalid action result');
    const digest = { hash: sha256('x'), sizeBytes: 1 };
    const t = protoType(`${REAPI}.ActionResult`);
    const cases: [object, RegExp][] = [
      [{ outputFiles: [{ path: '/etc/passwd', digest }] }, /output_files\[0\]\.path/],
      [{ outputFiles: [{ path: 'a/../../b', digest }] }, /output_files\[0\]\.path/],
      [{ outputFiles: [{ path: 'a', digest: { hash: 'zz', sizeBytes: 1 } }] }, /output_files\[0\]\.digest/],
      [{ outputDirectories: [{ path: 'gen' }] }, /output_directories\[0\] has neither/],
      [{ outputSymlinks: [{ path: '', target: 'x' }] }, /output_symlinks\[0\]\.path/],
      [{ stdoutDigest: { hash: 'zz', sizeBytes: 2 } }, /stdout_digest/],
    ];
    for (const [fields, message] of cases) {
      const r = await rawRequest(s.url, 'PUT', `/ac/${key}`, Buffer.from(t.encode(t.create(fields)).finish()));
      assert.equal(r.status, 400, JSON.stringify(fields));
      assert.match(r.body.toString(), message);
    }
    const stored = await s.server.store.has([acKey(key)]);
    assert.deepEqual(stored, [false]);
  });

  test('path traversal in any encoding is 400 and stores nothing', async () => {
    const blob = Buffer.from('traversal');
    const h = sha256(blob);
    const entries = s.server.store.usage().entries;
    for (const p of [
      `/../cas/${h}`,
      `/a/../cas/${h}`,
      `/%2e%2e/cas/${h}`,
      `/%2E%2e/cas/${h}`,
      `/a%2fb/cas/${h}`,
      `/a%5cb/cas/${h}`,
      `/a\\b/cas/${h}`,
      `/a%00/cas/${h}`,
      `/./cas/${h}`,
      `//cas/${h}`,
      `/a%zz/cas/${h}`,
    ]) {
      const r = await rawRequest(s.url, 'PUT', p, blob);
      assert.equal(r.status, 400, p);
    }
    assert.equal(s.server.store.usage().entries, entries);
  });
});

describe('Bazel HTTP ActionResult size cap', () => {
  test(
    'an AC body over 16 MiB is 413 before it is read, a raw AC prefix is not held to it, and 16 MiB exactly is taken',
    { timeout: 15_000 },
    async () => {
      const MAX = 16 * 1024 * 1024;
      const s = await startTestServer({ rawAcPrefixes: 'ccache' });
      try {
        const key = sha256('a large action');
        // Only the headers and 4 bytes are sent: the answer must not wait for the rest.
        const c = await RawConnection.open(s.url);
        await c.writeHead('PUT', `/ac/${key}`, { 'content-length': MAX + 1 });
        await c.write(Buffer.alloc(4));
        const over = await c.readResponse();
        c.destroy();
        assert.equal(over.status, 413);
        assert.match(over.body.toString(), /16777216 bytes/);
        assert.equal((await rawRequest(s.url, 'GET', `/ac/${key}`)).status, 404);

        // A raw (ccache) AC entry is opaque bytes, bounded by --max-blob-size only.
        const rawBytes = Buffer.alloc(MAX + 1, 3);
        assert.equal((await rawRequest(s.url, 'PUT', `/ccache/ac/${key}`, rawBytes)).status, 200);

        // An ActionResult of exactly 16 MiB: stdout_raw after its tag and 4-byte length.
        const t = protoType(`${REAPI}.ActionResult`);
        const exact = Buffer.from(t.encode(t.create({ stdoutRaw: Buffer.alloc(MAX - 5, 0x61) })).finish());
        assert.equal(exact.length, MAX);
        assert.equal((await rawRequest(s.url, 'PUT', `/ac/${key}`, exact)).status, 200);
        const hit = await rawRequest(s.url, 'GET', `/ac/${key}`);
        assert.equal(hit.status, 200);
        assert.equal(hit.body.length, MAX);
      } finally {
        await s.close();
      }
    },
  );
});

describe('Bazel HTTP options', () => {
  test('--http-prefix ignore shares one namespace', async () => {
    const s = await startTestServer({ httpPrefix: 'ignore' });
    try {
      const blob = Buffer.from('shared');
      const h = sha256(blob);
      await rawRequest(s.url, 'PUT', `/a/cas/${h}`, blob);
      assert.equal((await rawRequest(s.url, 'GET', `/b/cas/${h}`)).status, 200);
      assert.equal((await rawRequest(s.url, 'GET', `/cas/${h}`)).status, 200);
    } finally {
      await s.close();
    }
  });

  test('--ac-mode raw and --raw-ac-prefixes accept any AC bytes; --ac-completeness off answers stored results', async () => {
    const s = await startTestServer({ rawAcPrefixes: 'ccache', acCompleteness: 'off' });
    try {
      const key = sha256('k');
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x01]);
      assert.equal((await rawRequest(s.url, 'PUT', `/ccache/ac/${key}`, bytes)).status, 200);
      assert.deepEqual((await rawRequest(s.url, 'GET', `/ccache/ac/${key}`)).body, bytes);
      assert.equal((await rawRequest(s.url, 'PUT', `/other/ac/${key}`, bytes)).status, 400);
      const ar = actionResult([{ hash: sha256('missing'), size: 7 }]);
      await rawRequest(s.url, 'PUT', `/ac/${key}`, ar);
      assert.equal((await rawRequest(s.url, 'GET', `/ac/${key}`)).status, 200);
    } finally {
      await s.close();
    }
    // One namespace for every prefix: a raw entry read through a validating prefix is not an
    // ActionResult, so it is a miss even with completeness off.
    const shared = await startTestServer({ httpPrefix: 'ignore', rawAcPrefixes: 'ccache', acCompleteness: 'off' });
    try {
      const key = sha256('k3');
      assert.equal((await rawRequest(shared.url, 'PUT', `/ccache/ac/${key}`, Buffer.from([0xff, 0xff]))).status, 200);
      assert.equal((await rawRequest(shared.url, 'GET', `/ccache/ac/${key}`)).status, 200);
      assert.equal((await rawRequest(shared.url, 'GET', `/ac/${key}`)).status, 404);
    } finally {
      await shared.close();
    }
    const r = await startTestServer({ acMode: 'raw' });
    try {
      const key = sha256('k2');
      assert.equal((await rawRequest(r.url, 'PUT', `/ac/${key}`, Buffer.from('not a proto \xff'))).status, 200);
      assert.equal((await rawRequest(r.url, 'GET', `/ac/${key}`)).status, 200);
    } finally {
      await r.close();
    }
  });
});
