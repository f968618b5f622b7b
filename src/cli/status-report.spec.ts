import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusReport } from './status-report.ts';

test('tiers, quotas and a draining server are shown; missing fields print as -', () => {
  const text = statusReport(
    {
      version: '9.9.9',
      uptimeSeconds: 90_061,
      draining: true,
      workers: 2,
      store: {
        bytes: 3 * 1024 ** 3,
        maxBytes: 4 * 1024 ** 3,
        entries: 12_345,
        namespaces: [{ namespace: 'pr-1', bytes: 1024 ** 3, entries: 10, quotaBytes: 2 * 1024 ** 3 }],
        tiers: [
          { name: 'disk', kind: 'disk', bytes: 3 * 1024 ** 3, maxBytes: 4 * 1024 ** 3, entries: 12_345, evictions: 2 },
          { name: 'bucket', kind: 's3', bytes: 5, maxBytes: 0, entries: 1, evictions: 0, errors: 7 },
        ],
      },
      lookups: { hits: 0, misses: 0, hitRate: null, protocols: {} },
    },
    'http://cache:8080',
  );
  assert.match(text, /^uptime +1d 1h 1m$/m);
  assert.match(text, /^state +draining$/m);
  assert.match(text, /^store +3\.0 GiB of 4\.0 GiB \(75\.0%\)$/m);
  assert.match(text, /^entries +12,345$/m);
  assert.match(text, /^evictions +-$/m);
  assert.match(text, /^listeners +-$/m);
  assert.match(text, /^all +0 +0 +-$/m, 'no lookups yet: no rate');
  assert.match(text, /^pr-1 +1\.0 GiB +10 +2\.0 GiB \(50\.0%\)$/m);
  assert.match(text, /^bucket +s3 +5 B of unbounded +1 +0 +7$/m);
});

test('traffic, lookups per namespace, failures by cause and the slowest requests are listed', () => {
  const text = statusReport(
    {
      store: { bytes: 0, maxBytes: 0, entries: 0 },
      lookups: {
        hits: 3,
        misses: 1,
        hitRate: 0.75,
        protocols: {},
        namespaces: [
          { namespace: 'main', hits: 3, misses: 0, hitRate: 1 },
          { namespace: '', hits: 0, misses: 1, hitRate: 0 },
        ],
      },
      traffic: { requests: 1234, bytesReceived: 2048, bytesSent: 3 * 1024 ** 2 },
      errors: { total: 2, causes: [{ protocol: 'bazel-http', cause: 'digest_mismatch', count: 2 }] },
      slowest: [
        {
          at: '2026-12-07T04:30:05.000Z',
          protocol: 'bazel-http',
          method: 'PUT',
          path: '/main/cas/abc',
          status: 200,
          seconds: 1.25,
        },
      ],
    },
    'http://cache:8080',
  );
  assert.match(text, /^requests +1,234$/m);
  assert.match(text, /^bytes in \/ out +2\.0 KiB \/ 3\.0 MiB$/m);
  assert.match(text, /^failed requests +2$/m);
  assert.match(text, /^main +3 +0 +100\.0%$/m);
  assert.match(text, /^\(default\) +0 +1 +0\.0%$/m);
  assert.match(text, /^digest_mismatch +bazel-http +2$/m);
  assert.match(text, /^\/main\/cas\/abc +bazel-http PUT +200 +1\.250 s +04:30:05$/m);
});
