// hoard bench as the benchmark scripts call it: every scenario against a STAND-IN cache
// (HTTP) and the stand-in REAPI server (gRPC), a counted run, JSON written, 0 errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBench, SCENARIOS } from '../../src/client/load-generator.ts';
import { startStandInCache } from '../fault/broken-server.ts';
import { startGrpcStandIn } from './grpc-stand-in.ts';

test('bench: counted runs of every scenario over HTTP and gRPC (stand-in servers), no errors, sane figures', async () => {
  const http = await startStandInCache();
  const grpc = await startGrpcStandIn();
  try {
    for (const server of [http.url, grpc.url]) {
      const report = await runBench({ server, count: 40, concurrency: 4, largeSize: 256 * 1024 });
      assert.deepEqual(
        report.results.map((r) => r.scenario),
        [...SCENARIOS],
      );
      for (const r of report.results) {
        assert.equal(r.errors, 0, `${server} ${r.scenario}: ${r.firstError}`);
        assert.equal(r.ops, 40);
        assert.ok(r.opsPerSec > 0 && r.p50Ms <= r.p95Ms && r.p95Ms <= r.p99Ms);
      }
      const putLarge = report.results.find((r) => r.scenario === 'put-large');
      assert.ok(
        putLarge &&
          Math.abs(putLarge.mbPerSec - (putLarge.opsPerSec * 256 * 1024) / 1e6) < 0.05 * putLarge.mbPerSec + 0.01,
        'MB/s = ops/s × size',
      );
    }
    assert.equal(http.cas.size >= 80, true);
  } finally {
    await http.close();
    await grpc.close();
  }
});
