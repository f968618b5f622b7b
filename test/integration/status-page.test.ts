// The live status page over real sockets: the HTML at --status-page (default /) with its CSP
// and a relative root that leads back to the assets from wherever it is mounted; its four
// public assets, revalidated by ETag; admin-only like /status behind access control; and the
// /status figures it draws (per-namespace lookups, traffic, failures by cause, the slowest
// requests, ?history) after a real workload, summed over the request threads when there are two.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatusDocument } from '../../src/server/status-document.ts';
import type { HistoryDocument } from '../../src/server/status-history.ts';
import { makeAccessFixtures } from '../helpers/access-fixtures.ts';
import { rawRequest, sha256, startTestServer, testConfig, type RawResponse } from '../helpers/test-server.ts';

const require = createRequire(import.meta.url);
const PAGE_DIR = new URL('../../status-page/', import.meta.url);

/** Each asset the page loads, and the file it must be. */
const ASSETS: Readonly<Record<string, { readonly type: string; readonly file: URL | string }>> = {
  '/hoard-status-page.js': { type: 'text/javascript; charset=utf-8', file: new URL('status-page.js', PAGE_DIR) },
  '/hoard-status-page.css': { type: 'text/css; charset=utf-8', file: new URL('status-page.css', PAGE_DIR) },
  '/hoard-uplot.js': { type: 'text/javascript; charset=utf-8', file: require.resolve('uplot/dist/uPlot.iife.min.js') },
  '/hoard-uplot.css': { type: 'text/css; charset=utf-8', file: require.resolve('uplot/dist/uPlot.min.css') },
};

/** What each other link of the page answers (the footer's /status and /metrics). */
const LINK_TYPES: Readonly<Record<string, RegExp>> = {
  '/status': /^application\/json/,
  '/metrics': /^text\/plain/,
};

const get = (url: string, path: string, headers: Record<string, string> = {}) =>
  rawRequest(url, 'GET', path, undefined, headers);

/** The paths the page's src and href attributes lead to, resolved from the page's own URL. */
function referencedPaths(html: string, pageUrl: string): string[] {
  return [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)]
    .map((m) => m[1]!)
    .filter((ref) => !ref.startsWith('data:'))
    .map((ref) => new URL(ref, pageUrl).pathname);
}

function assertIsPage(r: RawResponse, root: string, what: string): string {
  assert.equal(r.status, 200, `${what}: ${r.body.toString().slice(0, 200)}`);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8', what);
  assert.equal(r.headers['cache-control'], 'no-store', what);
  const csp = String(r.headers['content-security-policy']);
  for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"])
    assert.ok(csp.includes(directive), `${what}: CSP ${csp} lacks ${directive}`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
  const html = r.body.toString();
  assert.ok(html.includes(`data-root="${root}"`), `${what}: root ${root} expected`);
  assert.ok(!html.includes('%ROOT%'), `${what}: every %ROOT% is replaced`);
  return html;
}

/** Every path the page at `path` references answers 200 with its type; the assets are the files. */
async function assertReferencesServed(url: string, path: string, html: string): Promise<void> {
  const paths = referencedPaths(html, `${url}${path}`);
  assert.deepEqual(
    paths.filter((p) => /\.(js|css)$/.test(p)).sort(),
    Object.keys(ASSETS).sort(),
    `${path}: the page loads the four assets, from the server's root`,
  );
  for (const p of paths) {
    const r = await get(url, p);
    assert.equal(r.status, 200, `${path} references ${p}`);
    const asset = ASSETS[p];
    if (asset === undefined) {
      assert.match(String(r.headers['content-type']), LINK_TYPES[p]!, p);
      continue;
    }
    assert.equal(r.headers['content-type'], asset.type, p);
    assert.deepEqual(r.body, await readFile(asset.file), `${p} is its file`);
  }
}

test('the page at /: HTML with a CSP whose assets are served, revalidated by ETag, and answer HEAD', async () => {
  const s = await startTestServer();
  try {
    const html = assertIsPage(await get(s.url, '/'), './', '/');
    await assertReferencesServed(s.url, '/', html);
    assertIsPage(await get(s.url, '/?refresh=5'), './', 'a query does not move the root');

    const headPage = await rawRequest(s.url, 'HEAD', '/');
    assert.equal(headPage.status, 200);
    assert.equal(headPage.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(Number(headPage.headers['content-length']), Buffer.byteLength(html));
    assert.equal(headPage.body.length, 0);

    for (const [path, asset] of Object.entries(ASSETS)) {
      const full = await get(s.url, path);
      const etag = full.headers['etag'];
      assert.match(String(etag), /^"[^"]+"$/, `${path} has a strong ETag`);
      assert.equal(full.headers['cache-control'], 'no-cache', `${path} is revalidated on every load`);

      const revalidated = await get(s.url, path, { 'if-none-match': etag! });
      assert.equal(revalidated.status, 304, path);
      assert.equal(revalidated.body.length, 0, `${path}: a 304 has no body`);
      assert.equal(revalidated.headers['etag'], etag);
      const stale = await get(s.url, path, { 'if-none-match': '"an-older-version"' });
      assert.equal(stale.status, 200, `${path}: another ETag gets the file`);
      assert.deepEqual(stale.body, full.body);

      const head = await rawRequest(s.url, 'HEAD', path);
      assert.equal(head.status, 200, path);
      assert.equal(head.headers['content-type'], asset.type);
      assert.equal(Number(head.headers['content-length']), full.body.length);
      assert.equal(head.headers['etag'], etag);
      assert.equal(head.body.length, 0);
    }

    const lookalike = await get(s.url, '/hoard-nope.js');
    assert.equal(lookalike.status, 400, 'only the four names are assets');
    assert.match(lookalike.body.toString(), /not a cache path/);
    assert.equal(lookalike.headers['etag'], undefined);
    assert.equal((await rawRequest(s.url, 'PUT', '/hoard-status-page.js', Buffer.from('x'))).status, 405);
  } finally {
    await s.close();
  }
});

test('--status-page /ops/status: the page and its relative root move with it; / is no page', async () => {
  const s = await startTestServer({ statusPage: '/ops/status' });
  try {
    for (const [path, root] of [
      ['/ops/status', '../'],
      ['/ops/status/', '../../'],
      ['/ops/status?x=/a/b', '../'],
    ] as const) {
      const html = assertIsPage(await get(s.url, path), root, path);
      await assertReferencesServed(s.url, path, html);
    }
    for (const path of ['/', '/ops', '/ops/status/more']) {
      const r = await get(s.url, path);
      assert.equal(r.status, 400, `${path} is not the page`);
      assert.match(r.body.toString(), /^invalid_argument: not a cache path/);
    }
  } finally {
    await s.close();
  }
});

test("--status-page off: no page and no assets, /status still answers; '' is off too", async () => {
  const s = await startTestServer({ statusPage: 'off' });
  try {
    for (const path of ['/', ...Object.keys(ASSETS)]) {
      const r = await get(s.url, path);
      assert.equal(r.status, 400, `${path} is not served`);
      assert.match(r.body.toString(), /not a cache path/);
    }
    assert.equal((await get(s.url, '/status')).status, 200);
    assert.equal((await testConfig(s.dir, { statusPage: '' })).statusPage, undefined);
    assert.deepEqual((await testConfig(s.dir, { statusPage: '/' })).statusPage, []);
  } finally {
    await s.close();
  }
});

test('behind access control the page needs the admin scope; its assets need nothing', async () => {
  const fx = await makeAccessFixtures();
  const accessFile = join(fx.dir, 'status-page-access.yaml');
  // alice is an admin; bob, not listed, has the defaults (read and write).
  await writeFile(accessFile, JSON.stringify({ users: [{ name: 'alice', scopes: ['read', 'write', 'admin'] }] }));
  const s = await startTestServer({ htpasswdFile: fx.htpasswdFile, accessFile });
  try {
    const anonymous = await get(s.url, '/');
    assert.equal(anonymous.status, 401);
    assert.match(
      String(anonymous.headers['www-authenticate']),
      /^Basic realm="hoard"/,
      'a browser can ask for a login',
    );
    assert.ok(!anonymous.body.toString().includes('<html'), 'no page without credentials');
    assert.equal(
      (await get(s.url, '/', { authorization: fx.basic('bob') })).status,
      403,
      'read and write are not admin',
    );
    assert.equal((await get(s.url, '/', { authorization: fx.basic('alice', 'wrong') })).status, 401);
    const html = assertIsPage(await get(s.url, '/', { authorization: fx.basic('alice') }), './', 'admin');
    for (const path of referencedPaths(html, `${s.url}/`).filter((p) => p in ASSETS)) {
      const r = await get(s.url, path);
      assert.equal(r.status, 200, `${path} without credentials`);
      assert.equal(r.headers['content-type'], ASSETS[path]!.type);
    }
    // What the page's script reads is the admin's only.
    assert.equal((await get(s.url, '/status')).status, 401);
    assert.equal((await get(s.url, '/status?history', { authorization: fx.basic('bob') })).status, 403);
    assert.equal((await get(s.url, '/status?history', { authorization: fx.basic('alice') })).status, 200);
  } finally {
    await s.close();
    await fx.close();
  }
});

type WithHistory = StatusDocument & { history: HistoryDocument };

test('/status after a workload in two namespaces: lookups, traffic, failures, slowest and history', async () => {
  const s = await startTestServer();
  try {
    const status = async <T = StatusDocument>(query = ''): Promise<T> => {
      const r = await get(s.url, `/status${query}`);
      assert.equal(r.status, 200);
      return JSON.parse(r.body.toString()) as T;
    };
    // The startup sample, before any request (it is taken asynchronously as the server starts).
    let before = await status<WithHistory>('?history');
    for (let i = 0; before.history.samples.length < 2 && i < 100; i++) {
      await sleep(20);
      before = await status<WithHistory>('?history');
    }
    const startup = before.history.samples[0]!;
    assert.equal(before.history.samples.length, 2, 'the startup sample and now');
    assert.equal(startup.requests, 0);

    let made = 0;
    const paths: string[] = [];
    const cache = (method: string, path: string, body?: Buffer) => {
      made++;
      paths.push(path.split('?')[0]!);
      return rawRequest(s.url, method, path, body);
    };
    /**
     * /status once every request made so far is counted: a request is counted when its answer
     * has finished on the server, which the client may see a moment before.
     */
    const settled = async (): Promise<StatusDocument> => {
      let doc = await status();
      for (let i = 0; doc.traffic.requests < made && i < 100; i++) {
        await sleep(20);
        doc = await status();
      }
      assert.equal(doc.traffic.requests, made, 'every cache request is counted once');
      // Reading the figures is not traffic: the page, its assets, /status and /metrics are not counted.
      await get(s.url, '/');
      await get(s.url, '/hoard-uplot.js');
      await get(s.url, '/metrics');
      await status('?history');
      assert.equal((await status()).traffic.requests, made, 'operator endpoints are not counted');
      return doc;
    };

    const a = Buffer.from('status page blob in the default namespace');
    const b = Buffer.from('status page blob in team-a, of another length');
    assert.equal((await cache('PUT', `/cas/${sha256(a)}`, a)).status, 200);
    assert.equal((await cache('PUT', `/team-a/cas/${sha256(b)}`, b)).status, 200);
    let doc = await settled();
    assert.equal(doc.traffic.bytesReceived, a.length + b.length);
    assert.equal(doc.lookups.hits + doc.lookups.misses, 0, 'a put is no lookup');

    // Default namespace: 2 hits (one with a query, one HEAD), 2 misses (Bazel and Nx).
    assert.deepEqual((await cache('GET', `/cas/${sha256(a)}?from=status-page-test`)).body, a);
    assert.equal((await cache('HEAD', `/cas/${sha256(a)}`)).status, 200);
    assert.equal((await cache('GET', `/cas/${sha256('absent')}`)).status, 404);
    assert.equal((await cache('GET', '/v1/cache/1234567890')).status, 404);
    // team-a: 1 hit, 2 misses.
    assert.deepEqual((await cache('GET', `/team-a/cas/${sha256(b)}`)).body, b);
    assert.equal((await cache('GET', `/team-a/cas/${sha256('absent 1')}`)).status, 404);
    assert.equal((await cache('GET', `/team-a/cas/${sha256('absent 2')}`)).status, 404);
    // A put whose body is not its hash's.
    assert.equal((await cache('PUT', `/cas/${sha256('not a')}`, a)).status, 400);
    doc = await settled();

    assert.deepEqual(doc.lookups.namespaces, [
      { namespace: '', hits: 2, misses: 2, hitRate: 0.5 },
      { namespace: 'team-a', hits: 1, misses: 2, hitRate: 1 / 3 },
    ]);
    assert.equal(doc.lookups.hits, 3);
    assert.equal(doc.lookups.misses, 4);
    assert.deepEqual(doc.lookups.protocols, {
      'bazel-http': { hits: 3, misses: 3, hitRate: 0.5 },
      nx: { hits: 0, misses: 1, hitRate: 0 },
    });
    assert.deepEqual(doc.traffic, {
      requests: 10,
      // The refused put's body is not counted: the store did not take it.
      bytesReceived: a.length + b.length,
      // Only the bodies of the GET hits (not the HEAD's, not the misses' texts).
      bytesSent: a.length + b.length,
    });
    assert.deepEqual(doc.errors, {
      total: 1,
      causes: [{ protocol: 'bazel-http', cause: 'digest_mismatch', count: 1 }],
    });
    // All ten requests are among the ten slowest (of every thread), their paths without the query.
    assert.deepEqual(doc.slowest.map((r) => r.path).sort(), [...paths].sort());
    for (let i = 1; i < doc.slowest.length; i++)
      assert.ok(doc.slowest[i - 1]!.seconds >= doc.slowest[i]!.seconds, 'slowest first');
    const refused = doc.slowest.find((r) => r.method === 'PUT' && r.status === 400);
    assert.equal(refused?.protocol, 'bazel-http');
    assert.equal(refused.namespace, '');
    assert.ok(doc.slowest.every((r) => r.protocol !== 'admin'));
    const bytesOf = (method: string, path: string) =>
      doc.slowest.find((r) => r.method === method && r.path === path)?.bytes;
    assert.equal(bytesOf('GET', `/cas/${sha256(a)}`), a.length, 'a hit sent its body');
    assert.equal(bytesOf('HEAD', `/cas/${sha256(a)}`), 0, 'a HEAD sends no body');

    const historyResponse = await get(s.url, '/status?history');
    assert.ok(!historyResponse.body.toString().includes('\n'), 'compact JSON');
    const { history } = JSON.parse(historyResponse.body.toString()) as WithHistory;
    assert.equal(history.intervalSeconds, 10);
    assert.equal(history.windowSeconds, 3600);
    assert.deepEqual(history.samples[0], startup, 'the hour keeps the startup sample');
    const now = history.samples.at(-1)!;
    assert.ok(now.t > startup.t);
    assert.deepEqual(
      {
        hits: now.hits,
        misses: now.misses,
        requests: now.requests,
        bytesReceived: now.bytesReceived,
        bytesSent: now.bytesSent,
        errors: now.errors,
      },
      {
        hits: doc.lookups.hits,
        misses: doc.lookups.misses,
        requests: doc.traffic.requests,
        bytesReceived: doc.traffic.bytesReceived,
        bytesSent: doc.traffic.bytesSent,
        errors: doc.errors.total,
      },
    );
    assert.deepEqual(now.namespaces, { '': [2, 2], 'team-a': [1, 2] });
    assert.deepEqual(now.protocols, { 'bazel-http': [3, 3], nx: [0, 1] });
    assert.equal(now.entries, 2);
  } finally {
    await s.close();
  }
});
