import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { startHarness, unary, type Harness } from './reapi-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

test('GetCapabilities passes the checks Bazel makes (SHA256, update_enabled, 2.0 in range, ZSTD)', async () => {
  interface Caps {
    cacheCapabilities: {
      digestFunctions: number[];
      actionCacheUpdateCapabilities: { updateEnabled: boolean };
      supportedCompressors: number[];
      supportedBatchUpdateCompressors: number[];
      maxBatchTotalSizeBytes: unknown;
    };
    lowApiVersion: { major: number; minor?: number };
    highApiVersion: { major: number; minor: number };
    executionCapabilities: unknown;
  }
  const caps = await unary<Caps>(h.caps, 'GetCapabilities', { instanceName: 'any/thing' });
  const cc = caps.cacheCapabilities;
  assert.deepEqual(cc.digestFunctions, [1]);
  assert.equal(cc.actionCacheUpdateCapabilities.updateEnabled, true);
  assert.deepEqual(cc.supportedCompressors, [1]);
  assert.deepEqual(cc.supportedBatchUpdateCompressors, [1]);
  assert.equal(caps.lowApiVersion.major, 2);
  assert.equal(caps.lowApiVersion.minor ?? 0, 0);
  assert.equal(caps.highApiVersion.major, 2);
  assert.equal(caps.highApiVersion.minor, 3);
  assert.equal(caps.executionCapabilities, null);
  const maxBatch = Number(cc.maxBatchTotalSizeBytes);
  assert.ok(maxBatch > 0 && maxBatch < 4 * 1024 * 1024, `max_batch_total_size_bytes ${maxBatch} must be below 4 MiB`);
});

test('GetCapabilities is counted in the request metrics like every other call', async () => {
  const metrics = createMetrics({ processMetrics: false });
  const m = await startHarness({}, new MemoryStore(), metrics);
  try {
    await unary(m.caps, 'GetCapabilities', {});
    assert.match(await metrics.render(), /hoard_requests_total\{[^}]*method="GetCapabilities"[^}]*\} 1/);
  } finally {
    await m.close();
  }
});
