// `hoard check` against hoard itself (a real `hoard serve`, HTTP and gRPC) passes every
// check; against the deliberately broken STAND-IN server it reports exactly the planted bugs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAIN, runNode, spawnHoard, type RunResult } from '../helpers/spawn-server.ts';
import { ALL_CHECKS, runChecks } from '../../src/check/run-checks.ts';
import { startStandInCache } from './broken-server.ts';

function hoardCheck(server: string): Promise<RunResult> {
  return runNode([MAIN, 'check', '--server', server, '--scale', '0.3'], { timeoutMs: 120_000 });
}

test('hoard check against hoard serve: every check passes over HTTP and gRPC, exit 0', async () => {
  const server = await spawnHoard();
  try {
    for (const url of [server.httpUrl, `grpc://${server.grpcTarget}`]) {
      const r = await hoardCheck(url);
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, new RegExp(`OK: ${ALL_CHECKS.length} passed, 0 failed, 0 not applicable`));
    }
  } finally {
    await server.dispose();
  }
});

test('hoard check against a stand-in correct cache: all pass', async () => {
  const server = await startStandInCache();
  try {
    const report = await runChecks({ server: server.url, scale: 0.3 });
    assert.ok(report.ok, JSON.stringify(report.results.filter((r) => r.status !== 'pass')));
  } finally {
    await server.close();
  }
});

test('hoard check against a broken stand-in (publishes cut uploads, AC hits with missing blobs): exactly those two fail, exit 1', async () => {
  const server = await startStandInCache({ publishPartial: true, acWithoutBlobs: true });
  try {
    const report = await runChecks({ server: server.url, scale: 0.3 });
    const failed = report.results.filter((r) => r.status === 'fail').map((r) => r.id);
    assert.deepEqual(failed.sort(), ['ac-completeness', 'cut-uploads']);
    assert.equal(report.ok, false);
    const cli = await hoardCheck(server.url);
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, /FAILED: \d+ passed, 2 failed/);
  } finally {
    await server.close();
  }
});

test('hoard check: each planted bug alone is reported alone', async () => {
  for (const [fault, id] of [
    ['publishPartial', 'cut-uploads'],
    ['acWithoutBlobs', 'ac-completeness'],
  ] as const) {
    const server = await startStandInCache({ [fault]: true });
    try {
      const report = await runChecks({
        server: server.url,
        scale: 0.3,
        only: ['cut-uploads', 'ac-completeness', 'digest-mismatch'],
      });
      assert.deepEqual(
        report.results.filter((r) => r.status === 'fail').map((r) => r.id),
        [id],
      );
    } finally {
      await server.close();
    }
  }
});

test('hoard check: a cache failing one upload in ten (rule 1, the unflushed-upload story) fails round-trip and same-digest, although retries would hide it', async () => {
  const server = await startStandInCache({ failSomeUploads: true });
  try {
    const report = await runChecks({ server: server.url, scale: 0.3, only: ['round-trip', 'same-digest'] });
    for (const r of report.results) {
      assert.equal(r.status, 'fail', `${r.id}: ${r.detail}`);
      assert.match(r.detail, /uploads failed: .*HTTP 500: failed to persist CAS blob/);
    }
    assert.equal(report.results.length, 2);
  } finally {
    await server.close();
  }
});

test('hoard check against a dead server: exit 1 with one clear message naming it', async () => {
  const server = await startStandInCache();
  const url = server.url;
  await server.close();
  const r = await runNode([MAIN, 'check', '--server', url]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `hoard: cannot connect to ${url}: connection refused (ECONNREFUSED)`);
});

test('hoard check --protocol: a dead server is one clear message (exit 1); gRPC or an unknown protocol is a usage error (exit 2)', async () => {
  const server = await startStandInCache();
  const url = server.url;
  await server.close();
  const dead = await runNode([MAIN, 'check', '--protocol', 'webdav', '--server', `${url}/sccache`]);
  assert.equal(dead.code, 1);
  assert.equal(dead.stderr.trim(), `hoard: cannot connect to ${url}/sccache: connection refused (ECONNREFUSED)`);
  const grpc = await runNode([MAIN, 'check', '--protocol', 'nx', '--server', 'grpc://127.0.0.1:1']);
  assert.equal(grpc.code, 2);
  assert.match(grpc.stderr, /--protocol nx needs an http:\/\/ or https:\/\/ server, not grpc:/);
  const unknown = await runNode([MAIN, 'check', '--protocol', 'turbo', '--only', 're-put', '--server', url]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown turbo check re-put; known: round-trip, artifact-metadata, batch-query/);
});
