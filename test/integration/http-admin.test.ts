// Operator endpoints: /metrics in Prometheus text with the request, lookup, byte and store
// series; /healthz; /readyz (503 while draining); /status JSON with usage and hit rate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawConnection } from '../helpers/raw-http.ts';
import { rawRequest, sha256, startTestServer } from '../helpers/test-server.ts';

test('/metrics, /healthz, /readyz and /status', async () => {
  const s = await startTestServer();
  try {
    const blob = Buffer.from('metrics blob');
    await rawRequest(s.url, 'PUT', `/cas/${sha256(blob)}`, blob);
    await rawRequest(s.url, 'GET', `/cas/${sha256(blob)}`);
    await rawRequest(s.url, 'GET', `/cas/${sha256('absent')}`);
    await rawRequest(s.url, 'PUT', `/cas/${sha256('wrong')}`, blob);

    const m = await rawRequest(s.url, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(String(m.headers['content-type']), /text\/plain/);
    const text = m.body.toString();
    assert.match(text, /hoard_requests_total\{protocol="bazel-http",method="PUT",code="200"\} 1/);
    assert.match(text, /hoard_requests_total\{protocol="bazel-http",method="PUT",code="400"\} 1/);
    assert.match(text, /hoard_cache_lookups_total\{protocol="bazel-http",keyspace="cas",result="hit"\} 1/);
    assert.match(text, /hoard_cache_lookups_total\{protocol="bazel-http",keyspace="cas",result="miss"\} 1/);
    assert.match(text, /hoard_bytes_received_total\{protocol="bazel-http"\} 12/);
    assert.match(text, /hoard_bytes_sent_total\{protocol="bazel-http"\} 12/);
    assert.match(text, /hoard_errors_total\{protocol="bazel-http",cause="digest_mismatch"\} 1/);
    assert.match(text, /hoard_request_duration_seconds_bucket\{le="0.005",protocol="bazel-http",method="GET"\}/);
    assert.match(text, /hoard_store_entries\{tier="disk"\} 1/);
    assert.match(text, /hoard_store_max_bytes\{tier="disk"\} 10737418240/);

    assert.equal((await rawRequest(s.url, 'GET', '/healthz')).status, 200);
    assert.equal((await rawRequest(s.url, 'GET', '/readyz')).status, 200);
    assert.equal((await rawRequest(s.url, 'POST', '/status', Buffer.from('x'))).status, 405);
    const st = JSON.parse((await rawRequest(s.url, 'GET', '/status')).body.toString());
    assert.equal(st.version, '0.1.0');
    assert.equal(st.store.entries, 1);
    assert.deepEqual(
      st.store.tiers.map((t: { name: string; kind: string; entries: number }) => [t.name, t.kind, t.entries]),
      [['disk', 'disk', 1]],
    );
    assert.equal(st.lookups.hits, 1);
    assert.equal(st.lookups.misses, 1);
    assert.equal(st.lookups.hitRate, 0.5);
    assert.deepEqual(st.lookups.protocols, { 'bazel-http': { hits: 1, misses: 1, hitRate: 0.5 } });
    assert.equal(typeof st.uptimeSeconds, 'number');
    assert.equal(st.draining, false);
    // Each frontend's requests carry its own protocol label.
    await rawRequest(s.url, 'GET', `/cc/${sha256('ccache').slice(0, 40)}`);
    const labelled = (await rawRequest(s.url, 'GET', '/metrics')).body.toString();
    assert.match(labelled, /hoard_requests_total\{protocol="ccache",method="GET",code="404"\} 1/);
    // /status has each protocol's hits and misses, added up over the request threads.
    const after = JSON.parse((await rawRequest(s.url, 'GET', '/status')).body.toString());
    assert.deepEqual(after.lookups.protocols.ccache, { hits: 0, misses: 1, hitRate: 0 });
    assert.equal(after.lookups.misses, 2);
    assert.match(labelled, /hoard_requests_total\{protocol="admin",method="GET",code="200"\} 4/);
  } finally {
    await s.close();
  }
});

test(
  'an upload in flight when the drain starts completes, and its response says Connection: close',
  { timeout: 15_000 },
  async () => {
    const s = await startTestServer();
    const c = await RawConnection.open(s.url);
    try {
      const blob = Buffer.alloc(10_000, 1);
      await c.writeHead('PUT', `/cas/${sha256(blob)}`, { 'content-length': blob.length });
      await c.write(blob.subarray(0, 5000));
      await new Promise((r) => setTimeout(r, 50));
      const stopping = s.server.shutdown(5000);
      assert.equal(s.server.draining, true);
      await c.write(blob.subarray(5000));
      const done = await c.readResponse();
      assert.equal(done.status, 200);
      assert.equal(done.headers['connection'], 'close');
      await c.closed;
      await stopping;
    } finally {
      c.destroy();
      await s.close();
    }
  },
);

test(
  'an admin answer to a request with a large unread body says Connection: close and closes',
  { timeout: 10_000 },
  async () => {
    const s = await startTestServer();
    const c = await RawConnection.open(s.url);
    try {
      // 50 MiB declared, none sent: reading it only to throw it away would keep the client waiting.
      await c.writeHead('POST', '/status', { 'content-length': 50 * 1024 * 1024 });
      const r = await c.readResponse();
      assert.equal(r.status, 405);
      assert.equal(r.headers['allow'], 'GET, HEAD');
      assert.equal(r.headers['connection'], 'close');
      await c.closed;
    } finally {
      c.destroy();
      await s.close();
    }
  },
);
