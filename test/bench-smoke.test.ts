// Smoke check of the benchmark harness (bench/): each benchmark starts and finishes on a
// tiny configuration and yields its rows. It measures nothing: figures from a run this
// small mean nothing, and speed is never asserted in tests (bench/RESULTS.md holds them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runGrpcBench, GRPC_DEFAULTS } from '../bench/grpc.ts';
import { HTTP_DEFAULTS, runHttpBench } from '../bench/http.ts';
import { STORE_DEFAULTS, runStoreBench } from '../bench/store-scale.ts';

const quiet = () => undefined;

test('bench store-scale runs on a tiny configuration', async () => {
  const s = await runStoreBench({ ...STORE_DEFAULTS, blobs: 300, smallCount: 200, largeSize: 256 * 1024, largeCount: 1 }, quiet);
  const open = s.rows.find((r) => r.workload.startsWith('open + first read'));
  assert.ok(open, 'an open row');
  assert.equal(open.warning, undefined, 'the reopened store serves the probe with every entry');
  assert.ok(s.rows.some((r) => r.target === 'sha256 (1 core)'));
  assert.equal(s.goals.length, 4);
});

test('bench http runs against hoard on a tiny configuration', async () => {
  // wrk runs whole seconds: one second each keeps its whole path (prefill, Lua, parsing)
  // covered. Without wrk installed only the large-blob rows exist.
  const s = await runHttpBench({ ...HTTP_DEFAULTS, seconds: 1, getBlobs: 20, largeSize: 256 * 1024, largeCount: 2, nginx: false }, quiet);
  const hoard = s.rows.filter((r) => r.target === 'hoard');
  assert.ok(hoard.length >= 2, `hoard rows: ${JSON.stringify(s.notes)}`);
  for (const r of hoard) assert.equal(r.warning, undefined, `${r.workload}: ${r.warning}`);
});

test('bench grpc runs against hoard on a tiny configuration', async () => {
  const s = await runGrpcBench({ ...GRPC_DEFAULTS, fmbCalls: 5, batchCalls: 2, batchBlobs: 10, bsCount: 20 }, quiet);
  const hoard = s.rows.filter((r) => r.target === 'hoard');
  assert.equal(hoard.length, 4, JSON.stringify(s.notes));
  for (const r of hoard) assert.equal(r.warning, undefined, `${r.workload}: ${r.warning}`);
  // The Write ceiling: the same uploads against a server whose store keeps nothing.
  const ceiling = s.rows.filter((r) => r.target === 'hoard, store discards');
  assert.deepEqual(ceiling.map((r) => [r.unit, r.warning]), [['writes/s', undefined]], JSON.stringify(s.notes));
});
