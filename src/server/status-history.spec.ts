import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusDocument, type StatusDocument } from './status-document.ts';
import { sampleOf, StatusHistory } from './status-history.ts';
import { ActivityRecorder } from '../metrics/activity.ts';

function documentWith(hits: number): StatusDocument {
  const activity = new ActivityRecorder();
  for (let i = 0; i < hits; i++) activity.lookup('bazel-http', 'main', true);
  activity.lookup('bazel-http', 'main', false);
  return statusDocument({
    version: 'test',
    startedAt: new Date(),
    draining: false,
    listeners: {},
    workers: 1,
    storeDir: '/tmp/x',
    usage: { bytes: 10, maxBytes: 100, effectiveMaxBytes: 90, entries: 2, evictions: 1 },
    activity: activity.snapshot(),
  });
}

test('a sample holds the running totals and the store gauges of the document', () => {
  const sample = sampleOf(documentWith(3), 1000);
  assert.deepEqual(sample, {
    t: 1000,
    hits: 3,
    misses: 1,
    protocols: { 'bazel-http': [3, 1] },
    namespaces: { main: [3, 1] },
    requests: 0,
    bytesReceived: 0,
    bytesSent: 0,
    errors: 0,
    storeBytes: 10,
    storeBound: 90,
    entries: 2,
    evictions: 1,
  });
});

test('the history keeps one window of samples and ends with the moment of the answer', async () => {
  let hits = 0;
  const history = new StatusHistory(async () => documentWith(hits), 10_000, 60_000);
  for (let t = 0; t <= 120_000; t += 10_000) history.add({ ...sampleOf(documentWith(t / 10_000)), t });
  hits = 99;
  const doc = await history.document(true);
  const samples = doc.history!.samples;
  assert.equal(doc.history!.intervalSeconds, 10);
  assert.equal(doc.history!.windowSeconds, 60);
  assert.deepEqual(
    samples.slice(0, -1).map((s) => s.t),
    [60_000, 70_000, 80_000, 90_000, 100_000, 110_000, 120_000],
  );
  assert.equal(samples.at(-1)!.hits, 99);
  assert.equal((await history.document(false)).history, undefined);
});

test('sampling starts at once and stops', async () => {
  let reads = 0;
  const history = new StatusHistory(async () => {
    reads++;
    return documentWith(1);
  }, 20);
  history.start();
  assert.equal(reads, 1, 'the first sample is taken at once');
  // A busy machine may run the timer late: wait for two more samples rather than a fixed time.
  for (let waited = 0; reads < 3; waited += 10) {
    assert.ok(waited < 5000, `only ${reads} samples in 5 s at a 20 ms interval`);
    await new Promise((r) => setTimeout(r, 10));
  }
  history.stop();
  const after = reads;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(reads, after, 'no sample after stop');
  assert.ok((await history.document(true)).history!.samples.length >= 4);
});
