// The Turborepo remote cache API (/v8/artifacts) against a real listening server: metadata
// stored with each artifact, the batch query, status and events, team and prefix namespaces,
// access refusals worded as turbo parses them, and the hostile uploads (rules 1, 3 and 7).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, HoardError } from '../../src/core/errors.ts';
import type { Key } from '../../src/core/keys.ts';
import { startServer } from '../../src/server/start-server.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions } from '../../src/storage/store.ts';
import { makeAccessFixtures, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { RawConnection } from '../helpers/raw-http.ts';
import { rawRequest, startTestServer, testConfig, type RawResponse, type TestServer } from '../helpers/test-server.ts';

const HASH = '0123456789abcdef';
// A real HMAC-SHA256 tag has '+', '/' and '=': all must come back as they went.
const TAG = 'q2Ckt0ZkVyHMcdtoWXVfbvz+ukR1sVqGOCb/mcXjl0M=';

let fx: AccessFixtures;
let s: TestServer;
let writer: string;
let reader: string;
before(async () => {
  fx = await makeAccessFixtures();
  s = await startTestServer({ accessFile: fx.accessFile, maxSize: '1GiB' });
  writer = `Bearer ${fx.tokens['writer']!}`;
  reader = `Bearer ${fx.tokens['reader']!}`;
});
after(async () => {
  await s.close();
  await fx.close();
});

const artifact = (label: string) => Buffer.from(`zstd tar of ${label}, opaque to the server`);
const put = (path: string, body: Buffer, headers: Record<string, string> = {}, auth = writer) =>
  rawRequest(s.url, 'PUT', path, body, { authorization: auth, 'content-type': 'application/octet-stream', ...headers });
const get = (path: string, auth = writer) => rawRequest(s.url, 'GET', path, undefined, { authorization: auth });
const head = (path: string, auth = writer) => rawRequest(s.url, 'HEAD', path, undefined, { authorization: auth });
const post = (path: string, json: unknown, auth = writer) =>
  rawRequest(s.url, 'POST', path, Buffer.from(typeof json === 'string' ? json : JSON.stringify(json)), {
    authorization: auth,
    'content-type': 'application/json',
  });
const turboError = (r: RawResponse) =>
  (JSON.parse(r.body.toString()) as { error: { code: string; message: string } }).error;

/** Turborepo errors of `cause` counted so far. */
async function errorsCounted(server: TestServer, cause: string): Promise<number> {
  const metrics = await server.server.metrics.render();
  const m = new RegExp(`^hoard_errors_total\\{protocol="turborepo",cause="${cause}"\\} (\\d+)`, 'm').exec(metrics);
  return m === null ? 0 : Number(m[1]);
}

/** Polls `done` (request threads report their counts in batches: there is no event to await). */
async function waitFor(done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await done()) return;
    await sleep(20);
  }
  assert.fail('the condition did not come true within 2 s');
}

test('PUT, GET and HEAD: the artifact and its metadata headers come back byte for byte', async () => {
  const body = artifact('round trip');
  const path = `/v8/artifacts/${HASH}?slug=web`;
  assert.equal((await get(path)).status, 404);
  const meta = {
    'x-artifact-duration': '18446744073709551615',
    'x-artifact-tag': TAG,
    'x-artifact-sha': '8948a6ca43523686c8d1bb54ed3d295266299d75',
    'x-artifact-dirty-hash': 'e3b0c44298fc1c14',
  };
  const stored = await put(path, body, meta);
  assert.equal(stored.status, 202);
  const got = await get(path);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, body);
  assert.equal(got.headers['content-length'], String(body.length));
  assert.equal(got.headers['content-type'], 'application/octet-stream');
  const probed = await head(path);
  assert.equal(probed.status, 200);
  assert.equal(probed.headers['content-length'], String(body.length));
  for (const r of [got, probed]) for (const [name, value] of Object.entries(meta)) assert.equal(r.headers[name], value);

  // A later upload replaces the artifact and its metadata together.
  assert.equal((await put(path, artifact('again'), { 'x-artifact-duration': '7' })).status, 202);
  const again = await get(path);
  assert.deepEqual(again.body, artifact('again'));
  assert.equal(again.headers['x-artifact-duration'], '7');
  assert.equal(again.headers['x-artifact-tag'], undefined);
});

test('an empty artifact and one without metadata round-trip', async () => {
  assert.equal((await put(`/v8/artifacts/e0?slug=web`, Buffer.alloc(0))).status, 202);
  const got = await get(`/v8/artifacts/e0?slug=web`);
  assert.equal(got.status, 200);
  assert.equal(got.body.length, 0);
  assert.equal(got.headers['x-artifact-duration'], undefined);
});

test('the batch query answers each hash with size, duration and tag, or null', async () => {
  const body = artifact('queried');
  await put('/v8/artifacts/aaaa000011112222?slug=q', body, { 'x-artifact-duration': '450', 'x-artifact-tag': TAG });
  const r = await post('/v8/artifacts?slug=q', { hashes: ['aaaa000011112222', 'bbbb000011112222'] });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body.toString()), {
    aaaa000011112222: { size: body.length, taskDurationMs: 450, tag: TAG },
    bbbb000011112222: null,
  });
  for (const bad of ['{"hashes":"x"}', '{"hashes":["../x"]}', 'not json', '[]']) {
    assert.equal((await post('/v8/artifacts?slug=q', bad)).status, 400, bad);
  }
});

test('status says enabled; events are accepted when well formed; a preflight lists what turbo asks', async () => {
  const status = await get('/v8/artifacts/status?slug=web');
  assert.equal(status.status, 200);
  assert.deepEqual(JSON.parse(status.body.toString()), { status: 'enabled' });
  const event = { sessionId: 'b1b5fbd8-3f37-4b6e-9a1c-5c6f54c0a1a0', source: 'REMOTE', event: 'HIT', hash: HASH };
  const local = { ...event, source: 'LOCAL' };
  assert.equal((await post('/v8/artifacts/events?slug=web', [event, { ...event, event: 'MISS' }, local])).status, 200);
  assert.equal((await post('/v8/artifacts/events?slug=web', { event: 'HIT' })).status, 400);
  assert.equal((await post('/v8/artifacts/events?slug=web', [local, { event: 'MAYBE' }])).status, 400);
  // Counted by source and result; a refused batch counts nothing.
  const admin = `Bearer ${fx.tokens['admin']!}`;
  const metrics = (await rawRequest(s.url, 'GET', '/metrics', undefined, { authorization: admin })).body.toString();
  for (const [source, result] of [
    ['remote', 'hit'],
    ['remote', 'miss'],
    ['local', 'hit'],
  ])
    assert.match(
      metrics,
      new RegExp(
        `hoard_client_reported_lookups_total\\{protocol="turborepo",source="${source}",result="${result}"\\} 1\n`,
      ),
    );
  // Bounded: a body over 256 KiB is refused from its Content-Length.
  assert.equal((await post('/v8/artifacts/events?slug=web', `[${'{"event":"HIT"},'.repeat(20_000)}{}]`)).status, 413);

  const pre = await rawRequest(s.url, 'OPTIONS', `/v8/artifacts/${HASH}?slug=web`, undefined, {
    'access-control-request-method': 'PUT',
    'access-control-request-headers': 'Authorization, Content-Type, User-Agent, x-artifact-duration, x-artifact-tag',
  });
  assert.equal(pre.status, 200);
  assert.match(String(pre.headers['access-control-allow-methods']), /PUT/);
  for (const h of ['authorization', 'content-type', 'x-artifact-duration', 'x-artifact-tag'])
    assert.match(String(pre.headers['access-control-allow-headers']).toLowerCase(), new RegExp(h));
  assert.equal((await rawRequest(s.url, 'PUT', '/v8/artifacts/status', Buffer.alloc(1))).status, 405);
});

test('namespaces: the team (slug, else teamId) and the URL prefix each separate artifacts', async () => {
  const hash = 'cafe0000cafe0000';
  await put(`/v8/artifacts/${hash}?slug=team-one`, artifact('one'));
  await put(`/v8/artifacts/${hash}?slug=team-two`, artifact('two'));
  await put(`/main/v8/artifacts/${hash}?slug=team-one`, artifact('main one'));
  await put(`/v8/artifacts/${hash}`, artifact('no team'));
  assert.deepEqual((await get(`/v8/artifacts/${hash}?slug=team-one`)).body, artifact('one'));
  assert.deepEqual((await get(`/v8/artifacts/${hash}?slug=team-two`)).body, artifact('two'));
  assert.deepEqual((await get(`/v8/artifacts/${hash}?teamId=team-one`)).body, artifact('one'));
  assert.deepEqual((await get(`/v8/artifacts/${hash}?teamId=team_x&slug=team-two`)).body, artifact('two'));
  assert.deepEqual((await get(`/main/v8/artifacts/${hash}?slug=team-one`)).body, artifact('main one'));
  assert.deepEqual((await get(`/v8/artifacts/${hash}`)).body, artifact('no team'));
  assert.equal((await get(`/v8/artifacts/${hash}?slug=team-three`)).status, 404);
  assert.equal((await get(`/other/v8/artifacts/${hash}?slug=team-one`)).status, 404);
  // A token limited to namespace team-a reads and writes that team only.
  const teamA = `Bearer ${fx.tokens['team-a']!}`;
  assert.equal((await put(`/v8/artifacts/${hash}?slug=team-a`, artifact('a'), {}, teamA)).status, 202);
  assert.equal((await get(`/v8/artifacts/${hash}?slug=team-one`, teamA)).status, 403);
  for (const team of ['a%2Fb', 'a%00b', '..', 'x'.repeat(300), 'a%5Cb']) {
    const refused = await get(`/v8/artifacts/${hash}?slug=${team}`);
    assert.equal(refused.status, 400, team);
    assert.equal(turboError(refused).code, 'invalid_argument', 'in the JSON shape turbo parses');
  }
});

describe('hostile requests', () => {
  test('no token or a wrong one: 401 with a challenge; a read-only token cannot store', async () => {
    const path = `/v8/artifacts/dead0000beef0000?slug=web`;
    for (const auth of [undefined, 'Bearer not-a-token']) {
      const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
      const r = await rawRequest(s.url, 'PUT', path, artifact('x'), headers);
      assert.equal(r.status, 401);
      assert.match(String(r.headers['www-authenticate']), /Bearer/);
      assert.equal((await rawRequest(s.url, 'GET', path, undefined, headers)).status, 401);
    }
    const refused = await put(path, artifact('from a reader'), {}, reader);
    assert.equal(refused.status, 403);
    assert.equal((await get(path)).status, 404, 'nothing was stored');
    // The reader still reads.
    await put(path, artifact('from the writer'));
    assert.deepEqual((await get(path, reader)).body, artifact('from the writer'));
    assert.equal((await put(path, artifact('again'), {}, reader)).status, 403);
    assert.deepEqual((await get(path)).body, artifact('from the writer'));
  });

  test('a refusal is JSON turbo parses, with a code that fails only that request', async () => {
    const refused = await put(`/v8/artifacts/dead0000beef0001?slug=web`, artifact('x'), {}, reader);
    assert.equal(refused.status, 403);
    assert.equal(refused.headers['content-type'], 'application/json');
    // Never remote_caching_* (turbo stops remote caching for the run) nor forbidden.
    assert.equal(turboError(refused).code, 'permission_denied');
  });

  test('malformed paths, hashes and headers: 400, nothing stored', async () => {
    for (const path of [
      '/v8/artifacts/..',
      '/v8/artifacts/a%2Fb',
      '/v8/artifacts/a%00b',
      '/v8/artifacts/abc.def',
      `/v8/artifacts/${'a'.repeat(129)}`,
    ]) {
      assert.equal((await put(path, artifact('bad path'))).status, 400, path);
    }
    const badHeaders: Record<string, string>[] = [
      { 'x-artifact-duration': '12ms' },
      { 'x-artifact-duration': '-1' },
      // Over u64: every turbo reading it back would fail to parse it.
      { 'x-artifact-duration': '18446744073709551616' },
      { 'x-artifact-tag': 'not base64!' },
      { 'x-artifact-tag': 'A'.repeat(601) },
    ];
    for (const headers of badHeaders) {
      const r = await put(`/v8/artifacts/bad0000000000000?slug=web`, artifact('bad header'), headers);
      assert.equal(r.status, 400, JSON.stringify(headers));
      assert.equal(turboError(r).code, 'invalid_argument');
    }
    assert.equal((await get(`/v8/artifacts/bad0000000000000?slug=web`)).status, 404);
  });

  test('a PUT without Content-Length gets 411', async () => {
    const r = await put(`/v8/artifacts/c0c0c0c0c0c0c0c0?slug=web`, artifact('chunked'), {
      'transfer-encoding': 'chunked',
    });
    assert.equal(r.status, 411);
    assert.equal((await get(`/v8/artifacts/c0c0c0c0c0c0c0c0?slug=web`)).status, 404);
  });

  test('a body shorter than its Content-Length, or cut mid-body, stores nothing; the next PUT works', async () => {
    const path = '/v8/artifacts/5407000000000000?slug=web';
    const aborted = await errorsCounted(s, 'aborted');
    for (const sent of [10, 40_000]) {
      const c = await RawConnection.open(s.url);
      await c.writeHead('PUT', path, { authorization: writer, 'content-length': 100_000 });
      await c.write(Buffer.alloc(sent, 1));
      c.destroy();
      await c.closed;
    }
    // Both uploads ended on the server's side (counted) before the store is asked.
    await waitFor(async () => (await errorsCounted(s, 'aborted')) >= aborted + 2);
    assert.equal((await get(path)).status, 404);
    assert.equal((await put(path, artifact('whole'))).status, 202);
    assert.deepEqual((await get(path)).body, artifact('whole'));
  });

  test('5 GiB declared against a 1 GiB store: 403 insufficient_storage from the headers, before any body byte', async () => {
    const c = await RawConnection.open(s.url);
    await c.writeHead('PUT', '/v8/artifacts/b16b16b16b16b16b?slug=web', {
      authorization: writer,
      'content-length': 5 * 1024 ** 3,
    });
    // Not a byte of body sent: the answer can only come from the headers.
    const r = await c.readResponse();
    c.destroy();
    assert.equal(r.status, 403, 'a full store fails that upload only, never a 5xx turbo retries');
    assert.equal(turboError(r).code, 'insufficient_storage');
    assert.equal(r.headers['connection'], 'close');
  });

  test('over --max-blob-size: 413 from the headers; an artifact at the bound is stored', async () => {
    const small = await startTestServer({ maxBlobSize: '1MiB' });
    try {
      const c = await RawConnection.open(small.url);
      await c.writeHead('PUT', '/v8/artifacts/b16b16b16b16b16c', { 'content-length': 2 * 1024 * 1024 });
      const r = await c.readResponse();
      assert.equal(r.status, 413);
      assert.equal(turboError(r).code, 'too_large');
      c.destroy();
      // The bound is the artifact's: its frame does not count against it.
      const whole = Buffer.alloc(1024 * 1024, 3);
      const ok = await rawRequest(small.url, 'PUT', '/v8/artifacts/b16b', whole, { 'x-artifact-tag': TAG });
      assert.equal(ok.status, 202);
      assert.deepEqual((await rawRequest(small.url, 'GET', '/v8/artifacts/b16b')).body, whole);
    } finally {
      await small.close();
    }
  });
});

/** A store whose reads and writes of one key fail: a disk fault, for the status table. */
class FaultyStore extends MemoryStore {
  readonly #bad: string;
  constructor(badId: string) {
    super();
    this.#bad = badId;
  }
  override get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    if (key.id === this.#bad) return Promise.reject(new HoardError(ErrorCode.Internal, 'EIO reading a segment'));
    return super.get(key, options);
  }
  override put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    if (key.id === this.#bad) return Promise.reject(new HoardError(ErrorCode.InsufficientStorage, 'no room'));
    return super.put(key, body, options);
  }
}

test('store faults: a read is a miss, a write fails alone with a 403 code turbo prints; both are counted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-turbo-fault-'));
  const server = await startServer(await testConfig(dir), { store: new FaultyStore('turbo:fa11fa11fa11fa11') });
  try {
    const path = '/v8/artifacts/fa11fa11fa11fa11';
    const read = await rawRequest(server.httpUrl, 'GET', path);
    assert.equal(read.status, 404, 'turbo retries a 5xx after seconds and pauses on three');
    assert.equal((await rawRequest(server.httpUrl, 'HEAD', path)).status, 404);
    const query = await rawRequest(
      server.httpUrl,
      'POST',
      '/v8/artifacts',
      Buffer.from('{"hashes":["fa11fa11fa11fa11"]}'),
    );
    assert.equal(query.status, 200);
    assert.match(JSON.parse(query.body.toString()).fa11fa11fa11fa11.error.message, /internal/);
    const write = await rawRequest(server.httpUrl, 'PUT', path, Buffer.from('artifact'));
    assert.equal(write.status, 403);
    const error = turboError(write);
    // Neither remote_caching_* (turbo would stop remote caching for the run) nor forbidden.
    assert.equal(error.code, 'insufficient_storage');
    // Other artifacts are unaffected.
    assert.equal((await rawRequest(server.httpUrl, 'PUT', '/v8/artifacts/0000', Buffer.from('ok'))).status, 202);
    const metrics = (await rawRequest(server.httpUrl, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /hoard_errors_total\{protocol="turborepo",cause="internal"\} [3-9]/);
    assert.match(metrics, /hoard_errors_total\{protocol="turborepo",cause="insufficient_storage"\} 1/);
  } finally {
    await server.shutdown(1000);
    await rm(dir, { recursive: true, force: true });
  }
});
