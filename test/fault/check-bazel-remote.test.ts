// `hoard check` against bazel-remote, when HOARD_TEST_BAZEL_REMOTE names its binary (it is
// not a Debian package, so CI skips this file): every check passes over HTTP and gRPC except
// ac-round-trip, which is information, not a failure: bazel-remote records the uploader in
// the ActionResult's execution_metadata.worker, a field no client reads for a hit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, waitForPort } from '../../bench/lib/processes.ts';
import { MAIN, runNode } from '../helpers/spawn-server.ts';
import { ALL_CHECKS, type CheckReport } from '../../src/check/run-checks.ts';

const BINARY = process.env['HOARD_TEST_BAZEL_REMOTE'];
const skip = BINARY === undefined ? 'set HOARD_TEST_BAZEL_REMOTE=/path/to/bazel-remote to run it' : false;

test(
  'hoard check against bazel-remote: all pass but ac-round-trip, which is info naming the worker; exit 0',
  { skip },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoard-check-bazel-remote-'));
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const peer = startChild(BINARY!, [
      `--dir=${join(dir, 'data')}`,
      '--max_size=1',
      `--http_address=127.0.0.1:${httpPort}`,
      `--grpc_address=127.0.0.1:${grpcPort}`,
    ]);
    try {
      await waitForPort(httpPort, peer);
      await waitForPort(grpcPort, peer);
      for (const server of [`http://127.0.0.1:${httpPort}`, `grpc://127.0.0.1:${grpcPort}`]) {
        const json = join(dir, 'report.json');
        const r = await runNode([MAIN, 'check', '--server', server, '--scale', '0.3', '--json', json], {
          timeoutMs: 120_000,
        });
        const report = JSON.parse(await readFile(json, 'utf8')) as CheckReport;
        const notPassed = report.results.filter((c) => c.status !== 'pass');
        assert.deepEqual(
          notPassed.map((c) => [c.id, c.status]),
          [['ac-round-trip', 'info']],
          r.stdout,
        );
        assert.match(notPassed[0]!.detail, /^hit, same ActionResult except execution_metadata, .*worker "127\.0\.0\.1/);
        assert.equal(r.code, 0, r.stdout);
        assert.match(r.stdout, new RegExp(`OK: ${ALL_CHECKS.length - 1} passed, 0 failed, 1 info, 0 not applicable`));
      }
    } finally {
      await peer.stop(5000);
      await rm(dir, { recursive: true, force: true });
    }
  },
);
