// The route table on a real server: 405 with Allow for a method a route does not serve,
// the mount points of the mounted protocols (from config; a prefix before a mount is a
// namespace), and metrics that name the real protocol.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawRequest, sha256, startTestServer } from '../helpers/test-server.ts';

const HASH = sha256('route table');

test('an unknown method on a known path gets 405 with the route’s Allow list, for every route', async () => {
  const t = await startTestServer();
  try {
    const cases = [
      { method: 'POST', path: `/ac/${HASH}`, allow: 'GET, HEAD, PUT' },
      { method: 'DELETE', path: `/team/cas/${HASH}`, allow: 'GET, HEAD, PUT' },
      { method: 'PATCH', path: `/ccache/ab/${'c'.repeat(38)}`, allow: 'GET, HEAD, PUT, DELETE' },
      { method: 'PUT', path: '/metrics', allow: 'GET, HEAD' },
    ];
    for (const c of cases) {
      const r = await rawRequest(t.url, c.method, c.path, Buffer.from('x'));
      assert.equal(r.status, 405, `${c.method} ${c.path}`);
      assert.equal(r.headers.allow, c.allow, `${c.method} ${c.path}`);
      assert.match(r.body.toString(), new RegExp(`method ${c.method} is not allowed here; use ${c.allow}`));
    }
    // Nothing was stored by any of them.
    assert.equal((await rawRequest(t.url, 'GET', `/team/cas/${HASH}`)).status, 404);
    const metrics = (await rawRequest(t.url, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /hoard_requests_total\{protocol="bazel-http",method="POST",code="405"\} 1/);
    assert.match(metrics, /hoard_requests_total\{protocol="ccache",method="PATCH",code="405"\} 1/);
    assert.match(metrics, /hoard_requests_total\{protocol="admin",method="PUT",code="405"\} 1/);
    assert.match(metrics, /hoard_errors_total\{protocol="bazel-http",cause="method_not_allowed"\} 2/);
  } finally {
    await t.close();
  }
});

test('each mounted protocol answers under its own mount and name, at the root and below a namespace prefix', async () => {
  const t = await startTestServer();
  try {
    const mounts = [
      ['/v8/artifacts/abc?teamId=team_1', '/main/v8/artifacts/abc', 'turborepo'],
      ['/v1/cache/123', '/main/v1/cache/123', 'nx'],
      ['/gradle/abc', '/main/gradle/abc', 'gradle'],
      ['/sccache/a/b/c', '/main/sccache/a/b/c', 'sccache'],
    ] as const;
    for (const [root, prefixed, protocol] of mounts) {
      assert.equal((await rawRequest(t.url, 'GET', root)).status, 404, root);
      assert.equal((await rawRequest(t.url, 'GET', prefixed)).status, 404, prefixed);
      const metrics = (await rawRequest(t.url, 'GET', '/metrics')).body.toString();
      assert.match(metrics, new RegExp(`hoard_requests_total\\{protocol="${protocol}",method="GET",code="404"\\} 2`));
      assert.match(
        metrics,
        new RegExp(`hoard_cache_lookups_total\\{protocol="${protocol}",keyspace="raw",result="miss"\\} 2`),
      );
    }
  } finally {
    await t.close();
  }
});

test('mount points come from the config; an unmounted protocol leaves its paths to the shaped routes', async () => {
  const t = await startTestServer({ turborepoMount: '/ci/turbo/', nxMount: '' });
  try {
    const moved = await rawRequest(t.url, 'GET', '/ci/turbo/artifacts/abc');
    assert.equal(moved.status, 404);
    const metrics = (await rawRequest(t.url, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /hoard_requests_total\{protocol="turborepo",method="GET",code="404"\} 1/);
    // /v8 is no mount any more: a Bazel path with the prefix v8 (a miss), not Turborepo's.
    assert.equal((await rawRequest(t.url, 'GET', `/v8/ac/${HASH}`)).status, 404);
    // Nx unmounted: /v1/cache/cas/<hash> is a Bazel path in namespace v1/cache.
    const put = await rawRequest(t.url, 'PUT', `/v1/cache/cas/${sha256('nx')}`, Buffer.from('nx'));
    assert.equal(put.status, 200);
    assert.equal((await rawRequest(t.url, 'GET', `/v1/cache/cas/${sha256('nx')}`)).body.toString(), 'nx');
    assert.equal((await rawRequest(t.url, 'GET', `/cas/${sha256('nx')}`)).status, 404, 'another namespace');
  } finally {
    await t.close();
  }
});

test('a bad mount path stops start-up with a message naming the option', async () => {
  await assert.rejects(startTestServer({ gradleMount: '/../x' }), /gradle-mount.*is not a mount path/i);
});

test('a path no route claims is counted as unrouted, with its own cause', async () => {
  const t = await startTestServer();
  try {
    const r = await rawRequest(t.url, 'GET', '/nothing/here');
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /not a cache path/);
    const metrics = (await rawRequest(t.url, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /hoard_requests_total\{protocol="unrouted",method="GET",code="400"\} 1/);
    assert.match(metrics, /hoard_errors_total\{protocol="unrouted",cause="not_a_cache_path"\} 1/);
  } finally {
    await t.close();
  }
});
