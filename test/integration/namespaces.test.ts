// Namespaces over real sockets, in the suite's worker mode: the read fallback
// (--namespace-fallback pr-*=main) through Bazel HTTP and REAPI, rule 6 across it, writes
// kept in their own namespace; quotas (--namespace-quota) evicting a namespace's own
// oldest entries; and the per-namespace figures on /status and /metrics.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { rawRequest, sha256, startTestServer, type TestServer } from '../helpers/test-server.ts';
import { codeOf, reapiClients, unary } from './reapi-harness.ts';

function actionResult(files: readonly Buffer[]): Buffer {
  const t = protoType(`${REAPI}.ActionResult`);
  const msg = t.create({
    outputFiles: files.map((f, i) => ({ path: `out/${i}`, digest: { hash: sha256(f), sizeBytes: f.length } })),
    exitCode: 0,
  });
  return Buffer.from(t.encode(msg).finish());
}

const digest = (b: Buffer) => ({ hash: sha256(b), sizeBytes: b.length });

type NamespaceFigures = { namespace: string; bytes: number; entries: number; quotaBytes?: number };

/** `read` until `check` holds of it (the store lists namespaces anew at most once a second). */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

async function namespacesOnStatus(s: TestServer): Promise<NamespaceFigures[]> {
  const status = JSON.parse((await rawRequest(s.url, 'GET', '/status')).body.toString());
  return status.store.namespaces;
}

const figuresOf = (list: NamespaceFigures[], namespace: string) => list.find((n) => n.namespace === namespace);

test('--namespace-fallback pr-*=main: main is read through pr-1 over HTTP and REAPI; pr-1 writes stay in pr-1', async () => {
  const s = await startTestServer({ namespaceFallback: 'pr-*=main', grpcAddress: '127.0.0.1:0' });
  const grpc = reapiClients(s.server.grpcAddress!);
  try {
    const blob = randomBytes(3000);
    const ar = actionResult([blob]);
    const action = sha256(randomBytes(32));
    assert.equal((await rawRequest(s.url, 'PUT', `/main/cas/${sha256(blob)}`, blob)).status, 200);
    assert.equal((await rawRequest(s.url, 'PUT', `/main/ac/${action}`, ar)).status, 200);

    // Bazel HTTP through pr-1: GET and HEAD of the blob and of the ActionResult (rule 6 sees
    // its output through the fallback too).
    const got = await rawRequest(s.url, 'GET', `/pr-1/cas/${sha256(blob)}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(blob));
    assert.equal((await rawRequest(s.url, 'HEAD', `/pr-1/cas/${sha256(blob)}`)).status, 200);
    const hit = await rawRequest(s.url, 'GET', `/pr-1/ac/${action}`);
    assert.equal(hit.status, 200);
    assert.ok(hit.body.equals(ar));
    assert.equal((await rawRequest(s.url, 'HEAD', `/pr-1/ac/${action}`)).status, 200);
    assert.equal((await rawRequest(s.url, 'GET', `/other/cas/${sha256(blob)}`)).status, 404, 'no rule, no fallback');

    // REAPI with instance name pr-1.
    const absent = randomBytes(100);
    const found = await unary<{ missingBlobDigests: { hash: string }[] }>(grpc.cas, 'FindMissingBlobs', {
      instanceName: 'pr-1',
      blobDigests: [digest(blob), digest(absent)],
    });
    assert.deepEqual(
      found.missingBlobDigests.map((d) => d.hash),
      [sha256(absent)],
    );
    const result = await unary<{ outputFiles: { path: string }[] }>(grpc.ac, 'GetActionResult', {
      instanceName: 'pr-1',
      actionDigest: { hash: action, sizeBytes: 32 },
    });
    assert.equal(result.outputFiles[0]!.path, 'out/0');

    // A write through pr-1 lands in pr-1 alone.
    const own = randomBytes(2000);
    assert.equal((await rawRequest(s.url, 'PUT', `/pr-1/cas/${sha256(own)}`, own)).status, 200);
    assert.equal((await rawRequest(s.url, 'GET', `/pr-1/cas/${sha256(own)}`)).status, 200);
    assert.equal((await rawRequest(s.url, 'GET', `/main/cas/${sha256(own)}`)).status, 404);
    assert.equal((await rawRequest(s.url, 'HEAD', `/main/cas/${sha256(own)}`)).status, 404);
    const inMain = await unary<{ missingBlobDigests: { hash: string }[] }>(grpc.cas, 'FindMissingBlobs', {
      instanceName: 'main',
      blobDigests: [digest(own)],
    });
    assert.deepEqual(
      inMain.missingBlobDigests.map((d) => d.hash),
      [sha256(own)],
    );
    // An ActionResult written through pr-1, whose outputs are in pr-1 and main: a hit there only.
    const prAction = sha256(randomBytes(32));
    const prAr = actionResult([blob, own]);
    const update = {
      instanceName: 'pr-1',
      actionDigest: { hash: prAction, sizeBytes: 32 },
      actionResult: protoType(`${REAPI}.ActionResult`).decode(prAr),
    };
    await unary(grpc.ac, 'UpdateActionResult', update);
    assert.equal((await rawRequest(s.url, 'GET', `/pr-1/ac/${prAction}`)).status, 200);
    assert.equal((await rawRequest(s.url, 'GET', `/main/ac/${prAction}`)).status, 404);
    assert.equal(
      await codeOf(
        unary(grpc.ac, 'GetActionResult', { instanceName: 'main', actionDigest: { hash: prAction, sizeBytes: 32 } }),
      ),
      5, // NOT_FOUND
    );

    // /status: bytes and entries per namespace.
    const listed = await eventually(
      () => namespacesOnStatus(s),
      (list) => figuresOf(list, 'pr-1')?.entries === 2,
      '/status namespaces',
    );
    assert.deepEqual(figuresOf(listed, 'main'), { namespace: 'main', bytes: blob.length + ar.length, entries: 2 });
    assert.equal(figuresOf(listed, 'pr-1')!.bytes > own.length, true);
  } finally {
    grpc.close();
    await s.close();
  }
});

test("--namespace-quota pr-*=4KiB: filling pr-1 evicts pr-1's oldest entries and none of main's; the namespace gauges", async () => {
  const s = await startTestServer({ namespaceQuota: 'pr-*=4KiB' });
  try {
    const main = [randomBytes(1000), randomBytes(1000), randomBytes(1000)];
    for (const b of main) assert.equal((await rawRequest(s.url, 'PUT', `/main/cas/${sha256(b)}`, b)).status, 200);
    const pr = Array.from({ length: 6 }, () => randomBytes(1000));
    for (const b of pr) assert.equal((await rawRequest(s.url, 'PUT', `/pr-1/cas/${sha256(b)}`, b)).status, 200);
    const present = async (ns: string, blobs: Buffer[]) =>
      Promise.all(blobs.map(async (b) => (await rawRequest(s.url, 'HEAD', `/${ns}/cas/${sha256(b)}`)).status === 200));
    assert.deepEqual(await present('pr-1', pr), [false, false, true, true, true, true], "pr-1's oldest went");
    assert.deepEqual(await present('main', main), [true, true, true], "main's all stay");

    // Larger than the whole quota: refused, and nothing of pr-1 evicted for it.
    const huge = randomBytes(5000);
    const refused = await rawRequest(s.url, 'PUT', `/pr-1/cas/${sha256(huge)}`, huge);
    assert.equal(refused.status, 413);
    assert.match(refused.body.toString(), /pr-1/);
    assert.deepEqual(await present('pr-1', [huge, ...pr.slice(2)]), [false, true, true, true, true]);

    const metrics = await eventually(
      async () => (await rawRequest(s.url, 'GET', '/metrics')).body.toString(),
      (text) => /hoard_namespace_entries\{namespace="pr-1"\} 4\b/.test(text),
      '/metrics namespace gauges',
    );
    assert.match(metrics, /hoard_namespace_bytes\{namespace="pr-1"\} 4000\b/);
    assert.match(metrics, /hoard_namespace_quota_bytes\{namespace="pr-1"\} 4096\b/);
    assert.match(metrics, /hoard_namespace_bytes\{namespace="main"\} 3000\b/);
    assert.match(metrics, /hoard_namespace_entries\{namespace="main"\} 3\b/);
    assert.doesNotMatch(metrics, /hoard_namespace_quota_bytes\{namespace="main"\}/);
    const listed = await namespacesOnStatus(s);
    assert.deepEqual(figuresOf(listed, 'pr-1'), { namespace: 'pr-1', bytes: 4000, entries: 4, quotaBytes: 4096 });
  } finally {
    await s.close();
  }
});
