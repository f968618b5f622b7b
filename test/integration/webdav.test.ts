// sccache's WebDAV frontend over real sockets: the exact request sequence sccache's WebDAV
// backend (OpenDAL) sends, PROPFIND listings parsed as XML, and the hostile cases (bad
// credentials, a read-only identity, malformed paths, lying and cut uploads, a declared size
// beyond the store, namespaces by URL prefix).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ErrorCode } from '../../src/core/errors.ts';
import { rawKey } from '../../src/core/keys.ts';
import { emptyMembers, encodePart } from '../../src/frontends/webdav/listing-part.ts';
import type { HttpListener } from '../../src/server/http-listener.ts';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { startHttpListenerOver } from '../helpers/http-listener-over.ts';
import { errorCount, waitForErrors } from '../helpers/error-counts.ts';
import { FaultyStore } from '../helpers/faulty-store.ts';
import { RawConnection } from '../helpers/raw-http.ts';
import { rawRequest, sha256, startTestServer, type RawResponse, type TestServer } from '../helpers/test-server.ts';

let fx: AccessFixtures;
let s: TestServer;
let writer: string;
let reader: string;

before(async () => {
  fx = await makeAccessFixtures();
  s = await startTestServer({ ...fx.flags, maxSize: '1GiB' });
  writer = `Bearer ${fx.tokens['writer']}`;
  reader = `Bearer ${fx.tokens['reader']}`;
});
after(async () => {
  await s.close();
  await fx.close();
});

interface DavOptions {
  readonly auth?: string | null;
  readonly body?: Buffer;
  readonly headers?: Record<string, string>;
}

/** One WebDAV request; the writer's credentials unless `auth` says otherwise (null: none). */
function dav(method: string, path: string, options: DavOptions = {}): Promise<RawResponse> {
  const auth = options.auth === undefined ? writer : options.auth;
  const headers: Record<string, string> = { ...options.headers };
  if (auth !== null) headers['authorization'] = auth;
  return rawRequest(s.url, method, path, options.body, headers);
}

/** OpenDAL's PROPFIND: an allprop body and an explicit depth. */
const ALLPROP = Buffer.from(
  '<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
);
const propfind = (path: string, depth: string, auth?: string | null) =>
  dav('PROPFIND', path, { auth, body: ALLPROP, headers: { depth, 'content-type': 'application/xml' } });

interface Resource {
  readonly href: string;
  readonly collection: boolean;
  readonly size: number | undefined;
  readonly modified: string;
  readonly status: string;
}

const RFC1123 =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** A 207 body checked for well-formedness and the DAV: namespace, read as resources. */
function parseMultistatus(r: RawResponse): Resource[] {
  assert.equal(r.status, 207, r.body.toString());
  assert.match(String(r.headers['content-type']), /^application\/xml/);
  const text = r.body.toString('utf8');
  assert.equal(XMLValidator.validate(text), true, text);
  const doc = new XMLParser({
    ignoreAttributes: false,
    parseTagValue: false,
    isArray: (name) => name === 'D:response' || name === 'D:propstat',
  }).parse(text) as Record<string, Record<string, unknown>>;
  const root = doc['D:multistatus']!;
  assert.equal(root['@_xmlns:D'], 'DAV:');
  const responses = (root['D:response'] ?? []) as Record<string, unknown>[];
  return responses.map((res) => {
    const propstats = res['D:propstat'] as Record<string, unknown>[];
    assert.equal(propstats.length, 1, 'one propstat per response (OpenDAL reads exactly one)');
    const prop = propstats[0]!['D:prop'] as Record<string, unknown>;
    const type = prop['D:resourcetype'];
    const modified = String(prop['D:getlastmodified']);
    assert.match(modified, RFC1123);
    const length = prop['D:getcontentlength'];
    return {
      href: String(res['D:href']),
      collection: typeof type === 'object' && type !== null && 'D:collection' in type,
      size: length === undefined ? undefined : Number(length),
      modified,
      status: String(propstats[0]!['D:status']),
    };
  });
}

test('the sccache flow: probe, PROPFIND walking up, MKCOL, PUT, GET, Range, HEAD, DELETE', async () => {
  const root = '/sccache/flow';
  // Startup: the probe is read (404 is fine), then written through OpenDAL's write path.
  assert.equal((await dav('GET', `${root}/.sccache_check`)).status, 404);
  assert.equal((await propfind(`${root}/`, '0')).status, 404);
  const top = parseMultistatus(await propfind('/sccache/', '0'));
  assert.deepEqual(
    top.map((r) => [r.href, r.collection, r.status]),
    [['/sccache/', true, 'HTTP/1.1 200 OK']],
  );
  assert.equal((await dav('MKCOL', `${root}/`)).status, 201);
  assert.equal((await dav('MKCOL', `${root}/`)).status, 405, 'exists: OpenDAL takes 405 as done');
  const probe = Buffer.from('Hello, World!');
  assert.equal((await dav('PUT', `${root}/.sccache_check`, { body: probe })).status, 201);
  assert.equal((await dav('PUT', `${root}/.sccache_check`, { body: probe })).status, 204, 'overwrite');
  assert.deepEqual((await dav('GET', `${root}/.sccache_check`)).body, probe);

  // An artifact at <root>/<k0>/<k1>/<k2>/<key>: each missing ancestor answers 404 walking up.
  const key = sha256('an object file');
  const dirs = [1, 2, 3].map((n) => `${root}/${key.slice(0, n).split('').join('/')}/`);
  for (const d of [...dirs].reverse()) assert.equal((await propfind(d, '0')).status, 404, d);
  assert.equal(parseMultistatus(await propfind(`${root}/`, '0'))[0]!.collection, true);
  for (const d of dirs) assert.equal((await dav('MKCOL', d)).status, 201, d);
  for (const d of dirs) assert.equal(parseMultistatus(await propfind(d, '0'))[0]!.href, d);
  const artifact = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  const path = `${dirs[2]}${key}`;
  assert.equal((await dav('PUT', path, { body: artifact })).status, 201);

  const got = await dav('GET', path);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, artifact);
  const part = await dav('GET', path, { headers: { range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], 'bytes 100-199/1000');
  assert.deepEqual(part.body, artifact.subarray(100, 200));
  assert.equal((await dav('GET', path, { headers: { range: 'bytes=5000-' } })).status, 416);
  const head = await dav('HEAD', path);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '1000');
  const stat = parseMultistatus(await propfind(path, '0'));
  assert.deepEqual(
    stat.map((r) => [r.href, r.collection, r.size]),
    [[path, false, 1000]],
  );

  assert.equal((await dav('DELETE', path)).status, 204);
  assert.equal((await dav('GET', path)).status, 404);
  assert.equal((await propfind(path, '0')).status, 404);
  assert.equal((await dav('DELETE', path)).status, 404);

  const options = await dav('OPTIONS', `${root}/`);
  assert.equal(options.status, 200);
  assert.equal(options.headers['dav'], '1');
  assert.match(String(options.headers['allow']), /PROPFIND/);
});

test('PROPFIND Depth 1 lists members as well-formed XML, escaped; Depth infinity is refused', async () => {
  const root = '/sccache/list';
  const names = ['plain.o', 'a&b <c>.txt', 'ü space', `quote"'`, '50% #1?x=y', 'empty'];
  // No MKCOL first: a PUT creates its missing parents.
  for (const [i, name] of names.entries()) {
    const body = Buffer.alloc(i === 5 ? 0 : 10 * (i + 1), i);
    const r = await dav('PUT', `${root}/sub/${encodeURIComponent(name)}`, { body });
    assert.equal(r.status, 201, name);
  }
  assert.equal((await dav('PUT', `${root}/sub/deeper/x`, { body: Buffer.from('x') })).status, 201);

  const top = parseMultistatus(await propfind(`${root}/`, '1'));
  assert.deepEqual(
    top.map((r) => [r.href, r.collection]),
    [
      [`${root}/`, true],
      [`${root}/sub/`, true],
    ],
  );
  const listed = parseMultistatus(await propfind(`${root}/sub/`, '1'));
  assert.equal(listed[0]!.href, `${root}/sub/`);
  const members = listed.slice(1).map((r) => [decodeURIComponent(r.href.slice(`${root}/sub/`.length)), r.size]);
  assert.deepEqual(
    members.sort(),
    [['deeper/', undefined], ...names.map((n, i) => [n, i === 5 ? 0 : 10 * (i + 1)])].sort(),
  );
  // Each segment percent-encoded as encodeURIComponent does: `%`, `#`, `?`, space and UTF-8 too.
  assert.ok(listed.some((r) => r.href === `${root}/sub/50%25%20%231%3Fx%3Dy`));
  assert.ok(listed.some((r) => r.href === `${root}/sub/%C3%BC%20space`));
  assert.ok(listed.every((r) => r.status === 'HTTP/1.1 200 OK'));

  // Depth 1 on a file is the file; infinity (or no Depth, which means infinity) on a collection is refused.
  assert.equal(parseMultistatus(await propfind(`${root}/sub/plain.o`, '1')).length, 1);
  for (const depth of ['infinity', undefined]) {
    const r = await dav('PROPFIND', `${root}/sub/`, depth === undefined ? {} : { headers: { depth } });
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /<D:propfind-finite-depth\/>/);
  }
  assert.equal((await propfind(`${root}/sub/`, '2')).status, 400);
  assert.equal((await propfind(`${root}/nothing/`, '1')).status, 404);
});

test('parallel PUTs into one directory all stay listed', async () => {
  const root = '/sccache/parallel';
  assert.equal((await dav('MKCOL', `${root}/`)).status, 201);
  const names = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}`);
  const statuses = await Promise.all(names.map((n) => dav('PUT', `${root}/${n}`, { body: Buffer.from(n) })));
  assert.deepEqual(
    statuses.map((r) => r.status),
    names.map(() => 201),
  );
  const listed = parseMultistatus(await propfind(`${root}/`, '1')).slice(1);
  assert.deepEqual(
    listed.map((r) => r.href.slice(`${root}/`.length)),
    names,
  );
});

test('a member the store no longer holds (evicted) is left out of the listing, and its GET is a 404', async () => {
  const root = '/sccache/evicted';
  for (const n of ['keep', 'gone'])
    assert.equal((await dav('PUT', `${root}/${n}`, { body: Buffer.from(n) })).status, 201);
  assert.equal((await dav('PUT', `${root}/dir/x`, { body: Buffer.from('x') })).status, 201);
  // What LRU eviction does: the entries disappear behind the frontend's back.
  assert.equal(await s.server.store.delete(rawKey('dav:evicted/gone', '')), true);
  assert.equal(await s.server.store.delete(rawKey('dav-dir:evicted/dir', '')), true);
  const listed = parseMultistatus(await propfind(`${root}/`, '1'));
  assert.deepEqual(
    listed.map((r) => r.href),
    [`${root}/`, `${root}/keep`],
  );
  assert.equal((await dav('GET', `${root}/gone`)).status, 404);
  // sccache's walk finds the collection missing and creates it again; its file is back.
  assert.equal((await propfind(`${root}/dir/`, '0')).status, 404);
  assert.equal((await dav('MKCOL', `${root}/dir/`)).status, 201);
  assert.deepEqual(
    parseMultistatus(await propfind(`${root}/dir/`, '1')).map((r) => r.href),
    [`${root}/dir/`, `${root}/dir/x`],
  );
});

test('collections: MKCOL needs its parent (409), a file is no collection, DELETE of a collection is recursive', async () => {
  const root = '/sccache/tree';
  assert.equal((await dav('MKCOL', `${root}/a/b/`)).status, 409);
  assert.equal((await dav('MKCOL', `${root}/`)).status, 201);
  assert.equal((await dav('PUT', `${root}/f`, { body: Buffer.from('f') })).status, 201);
  assert.equal((await dav('MKCOL', `${root}/f/`)).status, 405, 'a file is there');
  assert.equal((await dav('PUT', `${root}/f/g`, { body: Buffer.from('g') })).status, 409, 'f is no collection');
  assert.equal((await dav('PUT', `${root}/`, { body: Buffer.from('x') })).status, 405, 'a collection is there');
  assert.equal((await dav('PUT', `${root}/d/e/g`, { body: Buffer.from('g') })).status, 201);
  assert.equal((await dav('DELETE', `${root}/d/`)).status, 204);
  assert.equal((await dav('GET', `${root}/d/e/g`)).status, 404);
  assert.equal((await propfind(`${root}/d/e/`, '0')).status, 404);
  assert.deepEqual(
    parseMultistatus(await propfind(`${root}/`, '1')).map((r) => r.href),
    [`${root}/`, `${root}/f`],
  );
});

test('credentials: none or wrong is 401 with a challenge; a read-only identity reads but changes nothing (403)', async () => {
  const root = '/sccache/secured';
  const body = Buffer.from('secured');
  assert.equal((await dav('PUT', `${root}/x/file`, { body })).status, 201);
  for (const auth of [null, 'Bearer hoard_not-a-token', fx.basic('alice', 'wrong')]) {
    for (const [method, path] of [
      ['GET', `${root}/x/file`],
      ['PROPFIND', `${root}/`],
      ['PUT', `${root}/x/file`],
      ['MKCOL', `${root}/y/`],
    ] as const) {
      const r =
        method === 'PROPFIND'
          ? await propfind(path, '1', auth)
          : await dav(method, path, { auth, body: method === 'PUT' ? body : undefined });
      assert.equal(r.status, 401, `${method} with ${auth === null ? 'no credentials' : 'bad credentials'}`);
      assert.match(String(r.headers['www-authenticate']), /Basic realm="hoard"/);
    }
  }
  assert.equal((await dav('GET', `${root}/x/file`, { auth: reader })).status, 200);
  assert.equal(parseMultistatus(await propfind(`${root}/x/`, '1', reader)).length, 2);
  const before = parseMultistatus(await propfind(`${root}/`, '1'));
  for (const [method, path] of [
    ['PUT', `${root}/x/file`],
    ['PUT', `${root}/x/new`],
    ['MKCOL', `${root}/z/`],
    ['DELETE', `${root}/x/file`],
    ['DELETE', `${root}/x/`],
  ] as const) {
    const r = await dav(method, path, {
      auth: reader,
      body: method === 'PUT' ? Buffer.from('overwritten') : undefined,
    });
    assert.equal(r.status, 403, `${method} ${path} as a reader`);
  }
  assert.deepEqual((await dav('GET', `${root}/x/file`)).body, body);
  assert.equal((await dav('GET', `${root}/x/new`)).status, 404);
  assert.deepEqual(parseMultistatus(await propfind(`${root}/`, '1')), before);
});

test('malformed paths are refused with 400 before anything is stored', async () => {
  for (const path of ['/sccache/a/../b', '/sccache/a/%2e%2e/b', '/sccache/a%2Fb', '/sccache/a%00b', '/sccache/a%5Cb']) {
    for (const method of ['PUT', 'MKCOL', 'PROPFIND']) {
      const r = await dav(method, path, { body: Buffer.from('x'), headers: { depth: '0' } });
      assert.equal(r.status, 400, `${method} ${path}`);
    }
  }
  assert.deepEqual(
    parseMultistatus(await propfind('/sccache/', '1'))
      .map((r) => r.href)
      .filter((h) => h.startsWith('/sccache/a')),
    [],
  );
});

test('a lying Content-Length or a cut upload stores nothing, and the next PUT of that path works', async () => {
  const path = '/sccache/cut/file';
  const errorsBefore = errorCount(await s.server.metrics.render(), 'sccache');
  assert.equal((await dav('MKCOL', '/sccache/cut/')).status, 201);
  // Declares 100 bytes, sends 50 and ends its side: a short body.
  const lying = await RawConnection.open(s.url);
  await lying.writeHead('PUT', path, { authorization: writer, 'content-length': 100 });
  await lying.write(Buffer.alloc(50, 1));
  lying.socket.end();
  await lying.closed;
  // Declares 1 MiB, sends 64 KiB and disconnects.
  const cut = await RawConnection.open(s.url);
  await cut.writeHead('PUT', path, { authorization: writer, 'content-length': 1 << 20 });
  await cut.write(Buffer.alloc(64 * 1024, 2));
  cut.destroy();
  await cut.closed;
  await waitForErrors(() => s.server.metrics.render(), 'sccache', errorsBefore + 2);
  assert.equal((await dav('GET', path)).status, 404);
  assert.equal((await propfind(path, '0')).status, 404);
  assert.deepEqual(
    parseMultistatus(await propfind('/sccache/cut/', '1')).map((r) => r.href),
    ['/sccache/cut/'],
  );
  const whole = Buffer.alloc(1 << 20, 3);
  assert.equal((await dav('PUT', path, { body: whole })).status, 201);
  assert.deepEqual((await dav('GET', path)).body, whole);
});

test('a 5 GiB declared size against a 1 GiB store is refused (507) at the start of its body', async () => {
  const path = '/sccache/huge/file';
  const c = await RawConnection.open(s.url);
  let sent = 0;
  let answered = false;
  try {
    await c.writeHead('PUT', path, { authorization: writer, 'content-length': 5 * 1024 ** 3 });
    // Sends the way a client does, until the answer comes. With one request thread the
    // refusal comes before any byte is read; a request thread first hands the store thread
    // a few chunks.
    const sending = (async () => {
      while (!answered && !c.isClosed && sent < 64 * 1024 * 1024) {
        await c.write(Buffer.alloc(64 * 1024, 4)).catch(() => undefined);
        sent += 64 * 1024;
      }
    })();
    const r = await c.readResponse();
    answered = true;
    await sending;
    assert.equal(r.status, 507, r.body.toString());
    assert.match(r.body.toString(), /^insufficient_storage/);
    assert.equal(r.headers['connection'], 'close');
    assert.ok(sent < 16 * 1024 * 1024, `${sent} bytes sent before the answer`);
  } finally {
    c.destroy();
  }
  assert.equal((await dav('GET', path)).status, 404);
  // Parents are created before the body is stored (so a stored file is always listed): the
  // refused PUT leaves its parent empty.
  assert.deepEqual(
    parseMultistatus(await propfind('/sccache/huge/', '1')).map((r) => r.href),
    ['/sccache/huge/'],
  );
});

test('namespaces: the URL prefix before the mount separates trees; a token of one namespace cannot touch another', async () => {
  const body = Buffer.from('team a only');
  assert.equal((await dav('PUT', '/team-a/sccache/ns/file', { body })).status, 201);
  assert.deepEqual((await dav('GET', '/team-a/sccache/ns/file')).body, body);
  assert.equal((await dav('GET', '/team-b/sccache/ns/file')).status, 404);
  assert.equal((await dav('GET', '/sccache/ns/file')).status, 404);
  assert.equal((await propfind('/team-b/sccache/ns/', '0')).status, 404);
  const hrefs = parseMultistatus(await propfind('/team-a/sccache/', '1')).map((r) => r.href);
  assert.deepEqual(hrefs, ['/team-a/sccache/', '/team-a/sccache/ns/']);
  const teamA = `Bearer ${fx.tokens['team-a']}`;
  assert.equal((await dav('GET', '/team-a/sccache/ns/file', { auth: teamA })).status, 200);
  assert.equal((await dav('PUT', '/team-b/sccache/ns/file', { auth: teamA, body })).status, 403);
  assert.equal((await propfind('/team-b/sccache/', '1', teamA)).status, 403);
});

test('limits: a path longer than the store can key is a 400 that says so; MKCOL with a body 415; PROPFIND bodies capped', async () => {
  // 1014 bytes below the mount is the longest path whose listing key still fits in 1024.
  const fits = `long/${'é'.repeat(504)}a`;
  assert.equal(Buffer.byteLength(fits), 1014);
  const ok = await dav('PUT', `/sccache/${encodeURIComponent('long')}/${encodeURIComponent(fits.slice(5))}`, {
    body: Buffer.from('deep'),
  });
  assert.equal(ok.status, 201, ok.body.toString());
  const listed = parseMultistatus(await propfind('/sccache/long/', '1')).map((r) => decodeURIComponent(r.href));
  assert.deepEqual(listed, ['/sccache/long/', `/sccache/${fits}`]);
  const tooLong = await dav('PUT', `/sccache/long/${encodeURIComponent(fits.slice(5))}b`, { body: Buffer.from('x') });
  assert.equal(tooLong.status, 400);
  assert.match(tooLong.body.toString(), /limited to 1014 bytes; this one has 1015/);

  const withBody = await dav('MKCOL', '/sccache/mkcol-body/', {
    body: Buffer.from('<x/>'),
    headers: { 'content-type': 'application/xml' },
  });
  assert.equal(withBody.status, 415);
  assert.equal((await propfind('/sccache/mkcol-body/', '0')).status, 404, 'nothing was created');

  const huge = await dav('PROPFIND', '/sccache/', { body: Buffer.alloc(65 * 1024, 0x20), headers: { depth: '0' } });
  assert.equal(huge.status, 413);
});

test('a Depth 1 listing larger than one batch is streamed, complete and well-formed', async () => {
  const root = '/sccache/big';
  assert.equal((await dav('MKCOL', `${root}/`)).status, 201);
  // Stored and listed the way 1,200 PUTs would (a listing part no request thread writes),
  // which is faster than 1,200 PUTs each rewriting the growing part.
  const names = Array.from({ length: 1200 }, (_, i) => `member-${String(i).padStart(5, '0')}-${'x'.repeat(150)}`);
  const part = emptyMembers();
  for (const name of names) {
    part.files.set(name, { size: name.length, modified: Date.UTC(2026, 0, 1) });
    await s.server.store.put(rawKey(`dav:big/${name}`), Buffer.from(name));
  }
  await s.server.store.put(rawKey('dav-ls:big#15'), encodePart(part));
  const r = await propfind(`${root}/`, '1');
  assert.equal(r.headers['content-length'], undefined, 'streamed in chunks');
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  const listed = parseMultistatus(r).slice(1);
  assert.deepEqual(
    listed.map((m) => [m.href.slice(`${root}/`.length), m.size, m.modified]),
    names.map((n) => [n, n.length, 'Thu, 01 Jan 2026 00:00:00 GMT']),
  );
});

describe('the status table: a store fault is a 500 (503 while shutting down), an oversize entry 413; the cause is counted', () => {
  const store = new FaultyStore();
  let listener: HttpListener;
  before(async () => {
    listener = await startHttpListenerOver(store);
  });
  after(() => listener.drain(Date.now()));
  const metrics = async () => (await rawRequest(listener.url, 'GET', '/metrics')).body.toString();

  test('every method answers a store fault by the shared table, and heals when the store does', async () => {
    const path = '/sccache/faults/file';
    const body = Buffer.from('entry');
    assert.equal((await rawRequest(listener.url, 'PUT', path, body)).status, 201);
    const expected = { [ErrorCode.Internal]: 500, [ErrorCode.Corrupt]: 500, [ErrorCode.Unavailable]: 503 } as const;
    for (const [fault, status] of Object.entries(expected) as [ErrorCode, number][]) {
      store.fault = fault;
      for (const [method, data, headers] of [
        ['GET', undefined, {}],
        ['PUT', body, {}],
        ['PROPFIND', undefined, { depth: '1' }],
        ['MKCOL', undefined, {}],
        ['DELETE', undefined, {}],
      ] as const) {
        const r = await rawRequest(
          listener.url,
          method,
          method === 'MKCOL' ? '/sccache/faults/new/' : path,
          data,
          headers,
        );
        assert.equal(r.status, status, `${method} under ${fault}`);
        assert.match(r.body.toString(), new RegExp(`^${fault}: `), 'the answer names the real cause');
      }
      await waitForErrors(metrics, 'sccache', 5, fault);
    }
    store.fault = undefined;
    assert.deepEqual((await rawRequest(listener.url, 'GET', path)).body, body);
    assert.equal(
      parseMultistatus(await rawRequest(listener.url, 'PROPFIND', '/sccache/faults/', undefined, { depth: '1' }))
        .length,
      2,
    );
  });
});

test('over --max-blob-size: 413 declared or chunked, nothing stored or listed', async () => {
  const small = await startTestServer({ maxBlobSize: '1KiB' });
  try {
    const path = '/sccache/small/file';
    assert.equal((await rawRequest(small.url, 'PUT', path, Buffer.alloc(2000, 1))).status, 413);
    const chunked = await rawRequest(small.url, 'PUT', path, Buffer.alloc(2000, 1), { 'transfer-encoding': 'chunked' });
    assert.equal(chunked.status, 413);
    assert.equal((await rawRequest(small.url, 'GET', path)).status, 404);
    const listing = await rawRequest(small.url, 'PROPFIND', '/sccache/small/', undefined, { depth: '1' });
    assert.deepEqual(
      parseMultistatus(listing).map((r) => r.href),
      ['/sccache/small/'],
    );
    await waitForErrors(() => small.server.metrics.render(), 'sccache', 1, 'too_large');
  } finally {
    await small.close();
  }
});
