import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, renderMerged } from './metrics.ts';

test('metrics render counters, histograms and store gauges in Prometheus text', async () => {
  const m = createMetrics({ processMetrics: false });
  m.request('bazel-http', 'GET', 200, 0.002);
  m.request('bazel-http', 'GET', 200, 0.004);
  m.request('reapi', 'GetActionResult', 'NOT_FOUND', 0.001);
  m.lookup('bazel-http', { keyspace: 'cas', namespace: '' }, 'hit');
  m.lookup('bazel-http', { keyspace: 'ac', namespace: 'main' }, 'miss');
  m.bytesReceived('bazel-http', 10);
  m.bytesSent('bazel-http', 4096);
  m.error('bazel-http', 'digest_mismatch');
  m.observeStore({ usage: () => ({ bytes: 123, maxBytes: 1000, effectiveMaxBytes: 900, entries: 4, evictions: 2 }) });
  const text = await m.render();
  assert.match(text, /hoard_requests_total\{protocol="bazel-http",method="GET",code="200"\} 2/);
  assert.match(text, /hoard_requests_total\{protocol="reapi",method="GetActionResult",code="NOT_FOUND"\} 1/);
  assert.match(text, /hoard_request_duration_seconds_count\{protocol="bazel-http",method="GET"\} 2/);
  assert.match(text, /hoard_cache_lookups_total\{protocol="bazel-http",keyspace="cas",result="hit"\} 1/);
  assert.match(text, /hoard_bytes_sent_total\{protocol="bazel-http"\} 4096/);
  assert.match(text, /hoard_errors_total\{protocol="bazel-http",cause="digest_mismatch"\} 1/);
  assert.match(text, /hoard_store_bytes\{tier="store"\} 123/);
  assert.match(text, /hoard_store_evictions\{tier="store"\} 2/);
  assert.match(text, /hoard_store_effective_max_bytes\{tier="store"\} 900/);
  assert.doesNotMatch(text, /hoard_store_errors\{/, 'a store that counts no errors has no such series');
  assert.deepEqual(m.activity().lookups, {
    hits: 1,
    misses: 1,
    protocols: { 'bazel-http': { hits: 1, misses: 1 } },
    namespaces: { '': { hits: 1, misses: 0 }, main: { hits: 0, misses: 1 } },
  });
});

test('two metric sets do not share a registry', async () => {
  const a = createMetrics({ processMetrics: false });
  const b = createMetrics({ processMetrics: false });
  a.request('bazel-http', 'PUT', 200, 0.01);
  assert.doesNotMatch(await b.render(), /hoard_requests_total\{/);
});

test('store gauges have one series per tier of a composed store', async () => {
  const m = createMetrics({ processMetrics: false });
  const tier = { maxBytes: 0, effectiveMaxBytes: 0, evictions: 0 };
  let bucketEntries = 7;
  m.observeStore({
    usage: () => ({
      ...tier,
      bytes: 10,
      entries: 1,
      tiers: [
        { ...tier, name: 'disk', kind: 'disk', bytes: 10, entries: 1, errors: 0 },
        { ...tier, name: 'bucket', kind: 's3', bytes: 70, entries: bucketEntries, errors: 3, pending: 2 },
      ],
    }),
  });
  let text = await m.render();
  assert.match(text, /hoard_store_bytes\{tier="disk"\} 10/);
  assert.match(text, /hoard_store_bytes\{tier="bucket"\} 70/);
  assert.match(text, /hoard_store_entries\{tier="bucket"\} 7/);
  assert.match(text, /hoard_store_errors\{tier="bucket"\} 3/);
  assert.match(text, /hoard_store_pending\{tier="bucket"\} 2/);
  assert.doesNotMatch(text, /hoard_store_pending\{tier="disk"\}/);
  assert.doesNotMatch(text, /hoard_store_bytes \d/, 'no unlabelled series beside the tiers');
  bucketEntries = 8;
  text = await m.render();
  assert.match(text, /hoard_store_entries\{tier="bucket"\} 8/, 'read at scrape time');
});

test("namespace gauges have one series per namespace of the store's bounded list", async () => {
  const m = createMetrics({ processMetrics: false });
  const base = { bytes: 0, maxBytes: 0, effectiveMaxBytes: 0, entries: 0, evictions: 0 };
  m.observeStore({
    usage: () => ({
      ...base,
      namespaces: [
        { namespace: 'main', bytes: 300, entries: 3, quotaBytes: 1000 },
        { namespace: '', bytes: 20, entries: 2 },
      ],
    }),
  });
  const text = await m.render();
  assert.match(text, /hoard_namespace_bytes\{namespace="main"\} 300/);
  assert.match(text, /hoard_namespace_bytes\{namespace=""\} 20/);
  assert.match(text, /hoard_namespace_entries\{namespace="main"\} 3/);
  assert.match(text, /hoard_namespace_quota_bytes\{namespace="main"\} 1000/);
  assert.doesNotMatch(text, /hoard_namespace_quota_bytes\{namespace=""\}/, 'no quota, no series');
});

test('merged metrics keep the process start time, which only the main thread reports', async () => {
  const main = createMetrics();
  const thread = createMetrics({ processMetrics: false });
  thread.request('nx', 'GET', 200, 0.001);
  const text = await renderMerged([await main.snapshot(), await thread.snapshot()]);
  assert.match(text, /^hoard_process_start_time_seconds \d+/m);
  assert.match(text, /hoard_requests_total\{protocol="nx",method="GET",code="200"\} 1/);
});
