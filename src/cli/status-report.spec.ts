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
