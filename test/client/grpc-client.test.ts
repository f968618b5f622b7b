// The REAPI transport against a STAND-IN gRPC cache (test/client/grpc-stand-in.ts, which
// keeps partial uploads): round trips, misses as values, ByteStream uploads and reads cut
// mid-stream by the fault proxy resume from the committed / received offset and verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf } from '../../src/core/digest.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { createClient } from '../../src/client/create-client.ts';
import { ClientError } from '../../src/client/client-error.ts';
import type { ClientEvent } from '../../src/client/types.ts';
import { startFaultProxy } from '../../src/check/fault-proxy.ts';
import { startGrpcStandIn } from './grpc-stand-in.ts';

test('grpc client (stand-in server): capabilities, findMissing, put/get, AC, misses, empty blob', async () => {
  const server = await startGrpcStandIn();
  const client = createClient(server.url);
  try {
    const caps = await client.capabilities();
    assert.deepEqual(caps.digestFunctions, ['sha256']);
    assert.equal(caps.actionCacheUpdate, true);
    const blob = randomBytes(200_000);
    const d = digestOf(blob);
    assert.deepEqual(await client.findMissing([d]), [d]);
    await client.put(d, blob);
    assert.deepEqual(await client.findMissing([d]), []);
    assert.ok(await client.has(d));
    const got = await client.getBytes(d);
    assert.ok(got && Buffer.from(got).equals(blob));
    const tail = await client.get(d, { offset: 150_000 });
    const parts: Buffer[] = [];
    for await (const c of tail ?? []) parts.push(c as Buffer);
    assert.ok(Buffer.concat(parts).equals(blob.subarray(150_000)));
    assert.equal(await client.getBytes(digestOf(Buffer.from('absent'))), undefined);
    assert.equal((await client.getBytes(digestOf(new Uint8Array())))?.byteLength, 0);

    const ar = protoType(`${REAPI}.ActionResult`);
    const encoded = ar.encode(ar.fromObject({ outputFiles: [{ path: 'out', digest: d }], exitCode: 0 })).finish();
    const action = digestOf(Buffer.from('action'));
    assert.equal(await client.getActionResult(action), undefined);
    await client.putActionResult(action, encoded);
    const back = await client.getActionResult(action);
    assert.ok(back);
    assert.deepEqual(ar.toObject(ar.decode(back)), ar.toObject(ar.decode(encoded)));
  } finally {
    await client.close();
    await server.close();
  }
});

test('grpc client (stand-in server): a ByteStream upload cut mid-stream resumes from QueryWriteStatus committed_size and verifies', async () => {
  const server = await startGrpcStandIn();
  const [, port] = server.target.split(':');
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: Number(port) },
    { cutAfterBytes: (conn) => (conn === 0 ? 400_000 : undefined), cutDirection: 'upstream' },
  );
  const events: ClientEvent[] = [];
  const client = createClient(proxy.url('grpc'), { onEvent: (e) => events.push(e) });
  try {
    const blob = randomBytes(1_000_000);
    const d = digestOf(blob);
    await client.put(d, blob);
    assert.equal(proxy.stats.cuts, 1);
    const resume = events.find((e) => e.type === 'resume');
    assert.ok(resume && resume.type === 'resume' && resume.offset > 0, JSON.stringify(events));
    assert.equal(server.writeStarts.length, 2);
    assert.equal(server.writeStarts[0], 0);
    assert.equal(server.writeStarts[1], resume.offset, 'the second Write starts at the committed offset');
    assert.ok(server.cas.get(d.hash)?.equals(blob), 'the resumed upload verified and published whole');
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

test("grpc client (stand-in server): the caller's abort reaches the QueryWriteStatus of a resuming upload", async () => {
  const ac = new AbortController();
  let abortedAt = 0;
  const server = await startGrpcStandIn({
    hangQueryWriteStatus: () => {
      abortedAt = Date.now();
      ac.abort();
    },
  });
  const [, port] = server.target.split(':');
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: Number(port) },
    { cutAfterBytes: (conn) => (conn === 0 ? 400_000 : undefined), cutDirection: 'upstream' },
  );
  const client = createClient(proxy.url('grpc'), { idleTimeoutMs: 10_000 });
  try {
    const blob = randomBytes(1_000_000);
    await assert.rejects(
      client.put(digestOf(blob), blob, { signal: ac.signal }),
      (err: unknown) => err instanceof ClientError && err.kind === 'aborted',
    );
    assert.ok(abortedAt > 0, 'the upload was cut and asked QueryWriteStatus');
    assert.ok(Date.now() - abortedAt < 2000, `the abort took ${Date.now() - abortedAt} ms to end the upload`);
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

test('grpc client (stand-in server): a ByteStream read cut mid-stream resumes at the bytes received and verifies', async () => {
  const server = await startGrpcStandIn();
  const blob = randomBytes(1_000_000);
  const d = digestOf(blob);
  server.cas.set(d.hash, blob);
  const [, port] = server.target.split(':');
  const proxy = await startFaultProxy(
    { host: '127.0.0.1', port: Number(port) },
    { cutAfterBytes: (conn) => (conn === 0 ? 300_000 : undefined), cutDirection: 'downstream' },
  );
  const events: ClientEvent[] = [];
  const client = createClient(proxy.url('grpc'), { onEvent: (e) => events.push(e) });
  try {
    const got = await client.getBytes(d);
    assert.ok(got && Buffer.from(got).equals(blob));
    assert.equal(proxy.stats.cuts, 1);
    assert.ok(
      events.some((e) => e.type === 'resume' && e.offset > 0),
      JSON.stringify(events),
    );
  } finally {
    await client.close();
    await proxy.close();
    await server.close();
  }
});

test('grpc client, rule 3: a Write answered OK with a committed_size short of the blob, or ended early without it, rejects', async () => {
  for (const fault of ['shortCommit', 'endEarly'] as const) {
    const server = await startGrpcStandIn({ [fault]: true });
    const client = createClient(server.url);
    try {
      const blob = randomBytes(300_000);
      const d = digestOf(blob);
      await assert.rejects(
        client.put(d, blob),
        (err: unknown) =>
          err instanceof ClientError && err.kind === 'protocol' && /ended with committed_size \d+/.test(err.message),
        fault,
      );
      // One Write: a short commit is a failure, not something to retry into success.
      assert.deepEqual(server.writeStarts, [0], fault);
    } finally {
      await client.close();
      await server.close();
    }
  }
});

test('grpc client: a dead server fails within 3 s naming it', async () => {
  const server = await startGrpcStandIn();
  const url = server.url;
  await server.close();
  const client = createClient(url);
  try {
    const t0 = Date.now();
    await assert.rejects(
      client.findMissing([digestOf(Buffer.from('x'))]),
      (err: unknown) => err instanceof ClientError && err.kind === 'connect' && err.message.includes(url),
    );
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  } finally {
    await client.close();
  }
});
