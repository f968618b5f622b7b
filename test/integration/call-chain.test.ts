// The one interceptor chain of both listeners: every call, HTTP or gRPC, gets exactly one
// access-log line and one request count, failures are counted by cause alike, and an
// admitting interceptor refuses calls before any store is touched, whatever the protocol.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { status, type Client } from '@grpc/grpc-js';
import pino from 'pino';
import type { Interceptor } from '../../src/core/call.ts';
import { createCallChain } from '../../src/core/call-chain.ts';
import { ErrorCode, HoardError } from '../../src/core/errors.ts';
import { casKey } from '../../src/core/keys.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { startServer } from '../../src/server/start-server.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { rawRequest, sha256, SUITE_WORKERS } from '../helpers/test-server.ts';
import { startHttpListenerOver } from '../helpers/http-listener-over.ts';
import { errorCounting, requestMetrics } from '../../src/server/interceptors/request-metrics.ts';
import { startReapiServer } from '../../src/frontends/reapi/reapi-server.ts';
import { codeOf, reapiClients, unary, uploadName, writeMessages } from './reapi-harness.ts';

interface LogLine {
  log?: string;
  protocol?: string;
  method?: string;
  status?: string | number;
  namespace?: string;
  url?: string;
  remote?: string;
}

/** Calls an undeclared method on a grpc-js client: the transport answers UNIMPLEMENTED. */
function unknownMethod(client: Client): Promise<number> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/build.bazel.remote.execution.v2.Nothing/Here',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      (err) => resolve(err?.code ?? status.OK),
    );
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('every call, HTTP or gRPC, writes one access-log line and counts once, under its protocol', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-chain-'));
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const config = await loadConfig({
    env: {},
    flags: {
      dir,
      httpAddress: '127.0.0.1:0',
      grpcAddress: '127.0.0.1:0',
      accessLog: 'on',
      durability: 'none',
      workers: SUITE_WORKERS,
    },
  });
  const server = await startServer(config, { logger, store: new MemoryStore() });
  const grpc = reapiClients(server.grpcAddress!);
  try {
    const data = Buffer.from('chain');
    const hash = sha256(data);
    // HTTP: a write, a hit, a miss, a refusal.
    assert.equal((await rawRequest(server.httpUrl, 'PUT', `/ns/cas/${hash}`, data)).status, 200);
    assert.equal((await rawRequest(server.httpUrl, 'GET', `/ns/cas/${hash}`)).status, 200);
    assert.equal((await rawRequest(server.httpUrl, 'GET', `/ns/cas/${sha256('none')}`)).status, 404);
    assert.equal((await rawRequest(server.httpUrl, 'PUT', `/ns/cas/${sha256('x')}`, data)).status, 400);
    // gRPC: a write, a read, a miss, a refusal, and a call the transport answers alone.
    assert.equal(
      await writeMessages(grpc.bs, [
        { resourceName: uploadName(data, 'team-a'), writeOffset: 0, finishWrite: true, data },
      ]),
      5,
    );
    await unary(grpc.cas, 'FindMissingBlobs', { instanceName: 'team-a', blobDigests: [{ hash, sizeBytes: 5 }] });
    const miss = unary(grpc.ac, 'GetActionResult', { instanceName: 'team-a', actionDigest: { hash, sizeBytes: 5 } });
    assert.equal(await codeOf(miss), status.NOT_FOUND);
    const md5 = unary(grpc.ac, 'GetActionResult', { actionDigest: { hash, sizeBytes: 5 }, digestFunction: 3 });
    assert.equal(await codeOf(md5), status.INVALID_ARGUMENT);
    assert.equal(await unknownMethod(grpc.cas), status.UNIMPLEMENTED);

    const access = () => lines.filter((l) => l.log === 'access');
    await until(() => access().length >= 9);
    await new Promise((r) => setTimeout(r, 50)); // no late duplicates
    // Sorted: request threads (HOARD_WORKERS > 1) log concurrently, so only the set is fixed.
    const seen = access()
      .map((l) => `${l.protocol} ${l.method} ${l.status}`)
      .sort();
    assert.deepEqual(
      seen,
      [
        'bazel-http PUT 200',
        'bazel-http GET 200',
        'bazel-http GET 404',
        'bazel-http PUT 400',
        'reapi Write OK',
        'reapi FindMissingBlobs OK',
        'reapi GetActionResult NOT_FOUND',
        'reapi GetActionResult INVALID_ARGUMENT',
        'reapi (unknown) UNIMPLEMENTED',
      ].sort(),
    );
    const write = access().find((l) => l.protocol === 'reapi' && l.method === 'Write')!;
    assert.equal(write.namespace, 'team-a');
    assert.equal(write.url, '/google.bytestream.ByteStream/Write');
    assert.equal(write.remote, '127.0.0.1');
    assert.equal(access().find((l) => l.protocol === 'bazel-http')!.namespace, 'ns');

    const metrics = (await rawRequest(server.httpUrl, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /hoard_requests_total\{protocol="bazel-http",method="PUT",code="200"\} 1/);
    assert.match(metrics, /hoard_requests_total\{protocol="reapi",method="Write",code="OK"\} 1/);
    assert.match(metrics, /hoard_requests_total\{protocol="reapi",method="GetActionResult",code="NOT_FOUND"\} 1/);
    assert.match(metrics, /hoard_requests_total\{protocol="reapi",method="\(unknown\)",code="UNIMPLEMENTED"\} 1/);
    // Failures are counted by cause on both protocols; a miss is not a failure.
    assert.match(metrics, /hoard_errors_total\{protocol="bazel-http",cause="digest_mismatch"\} 1/);
    assert.match(metrics, /hoard_errors_total\{protocol="reapi",cause="unsupported"\} 1/);
    assert.match(metrics, /hoard_errors_total\{protocol="reapi",cause="unimplemented"\} 1/);
    assert.doesNotMatch(metrics, /hoard_errors_total\{[^}]*cause="not_found"/);
    assert.doesNotMatch(metrics, /hoard_errors_total\{[^}]*cause="404"/);
  } finally {
    grpc.close();
    await server.shutdown(1000);
    await rm(dir, { recursive: true, force: true });
  }
});

/** A stand-in for access control: nobody writes to `main`; the gRPC half answers asynchronously. */
function mainIsReadOnly(async: boolean): Interceptor {
  const check = (namespace: string | undefined, access: string): void => {
    if (namespace === 'main' && access === 'write') {
      throw new HoardError(ErrorCode.PermissionDenied, 'namespace main is read-only for this caller');
    }
  };
  return {
    name: 'main-is-read-only',
    admit: async
      ? (call) => Promise.resolve().then(() => check(call.namespace, call.access))
      : (call) => check(call.namespace, call.access),
  };
}

test('an admitting interceptor refuses a write before the store sees it, on both listeners', async () => {
  const store = new MemoryStore();
  const metrics = createMetrics({ processMetrics: false });
  const data = Buffer.from('poison');
  const hash = sha256(data);
  const http = await startHttpListenerOver(
    store,
    undefined,
    createCallChain([mainIsReadOnly(false), requestMetrics(metrics), errorCounting(metrics)]),
  );
  const reapi = await startReapiServer({
    store,
    address: '127.0.0.1:0',
    chain: createCallChain([mainIsReadOnly(true), requestMetrics(metrics), errorCounting(metrics)]),
  });
  const grpc = reapiClients(reapi.address);
  try {
    const refused = await rawRequest(http.url, 'PUT', `/main/cas/${hash}`, data);
    assert.equal(refused.status, 403);
    assert.match(refused.body.toString(), /permission_denied: namespace main is read-only/);
    assert.equal((await rawRequest(http.url, 'PUT', `/main/ac/${hash}`, data)).status, 403);
    assert.equal((await rawRequest(http.url, 'GET', `/main/cas/${hash}`)).status, 404, 'reads are admitted');
    assert.equal(
      (await rawRequest(http.url, 'PUT', `/pr-1/cas/${hash}`, data)).status,
      200,
      'other namespaces are not',
    );

    const write = writeMessages(grpc.bs, [
      { resourceName: uploadName(data, 'main'), writeOffset: 0, finishWrite: true, data },
    ]);
    assert.equal(await codeOf(write), status.PERMISSION_DENIED);
    const batch = unary(grpc.cas, 'BatchUpdateBlobs', {
      instanceName: 'main',
      requests: [{ digest: { hash, sizeBytes: data.length }, data }],
    });
    assert.equal(await codeOf(batch), status.PERMISSION_DENIED);
    const update = unary(grpc.ac, 'UpdateActionResult', {
      instanceName: 'main',
      actionDigest: { hash, sizeBytes: 6 },
      actionResult: { exitCode: 0 },
    });
    assert.equal(await codeOf(update), status.PERMISSION_DENIED);
    const found = await unary<{ missingBlobDigests: unknown[] }>(grpc.cas, 'FindMissingBlobs', {
      instanceName: 'main',
      blobDigests: [{ hash, sizeBytes: 6 }],
    });
    assert.equal(found.missingBlobDigests.length, 1, 'reads are admitted');
    const read = unary(grpc.bs, 'QueryWriteStatus', { resourceName: uploadName(data, 'main') });
    assert.equal(await codeOf(read), 0);

    // Nothing reached namespace main; the admitted write to pr-1 did.
    assert.equal(await store.stat(casKey(hash, 'main')), undefined);
    assert.equal(await store.stat(casKey(hash, 'pr-1')), data.length);
    const text = await metrics.render();
    assert.match(text, /hoard_errors_total\{protocol="bazel-http",cause="permission_denied"\} 2/);
    assert.match(text, /hoard_errors_total\{protocol="reapi",cause="permission_denied"\} 3/);
  } finally {
    grpc.close();
    await reapi.shutdown(1000);
    await http.drain(Date.now());
  }
});
