// The gRPC transport's own answers (src/frontends/reapi/grpc-transport.ts), seen from a
// raw HTTP/2 client: what grpc-js's server used to decide for hoard is now hoard's code.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { blob, framed, type Harness, startHarness, unary, uploadName } from './reapi-harness.ts';

let h: Harness;
let session: http2.ClientHttp2Session;
before(async () => {
  h = await startHarness();
  session = http2.connect(`http://${h.server.address}`);
  session.on('error', () => undefined);
});
after(async () => {
  session.close();
  await h.close();
});

interface Reply {
  httpStatus: number;
  grpcStatus?: string;
  grpcMessage?: string;
  body: Buffer;
}

function call(
  path: string,
  body: Buffer,
  headers: http2.OutgoingHttpHeaders = {},
  keepOpen = false,
  on: http2.ClientHttp2Session = session,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = on.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const reply: Reply = { httpStatus: 0, body: Buffer.alloc(0) };
    const parts: Buffer[] = [];
    const take = (hs: http2.IncomingHttpHeaders) => {
      if (hs[':status'] !== undefined) reply.httpStatus = Number(hs[':status']);
      if (hs['grpc-status'] !== undefined) reply.grpcStatus = String(hs['grpc-status']);
      if (hs['grpc-message'] !== undefined) reply.grpcMessage = decodeURIComponent(String(hs['grpc-message']));
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('error', reject);
    stream.on('close', () => resolve({ ...reply, body: Buffer.concat(parts) }));
    if (keepOpen) stream.write(body);
    else stream.end(body);
  });
}

const capsRequest = framed(protoType(`${REAPI}.GetCapabilitiesRequest`).encode({}).finish());

test('a unary call answers one framed message and grpc-status 0 in the trailers', async () => {
  const r = await call(`/${REAPI}.Capabilities/GetCapabilities`, capsRequest);
  assert.equal(r.httpStatus, 200);
  assert.equal(r.grpcStatus, '0');
  assert.equal(r.body[0], 0);
  assert.equal(r.body.readUInt32BE(1), r.body.length - 5);
});

test('an unknown method is UNIMPLEMENTED, a trailers-only reply', async () => {
  const r = await call(`/${REAPI}.Execution/Execute`, capsRequest);
  assert.equal(r.grpcStatus, '12');
  assert.match(r.grpcMessage ?? '', /unknown method/);
  assert.equal(r.body.length, 0);
});

test('not POST is 405, not gRPC content is 415', async () => {
  assert.equal(
    (await call(`/${REAPI}.Capabilities/GetCapabilities`, capsRequest, { ':method': 'PUT' })).httpStatus,
    405,
  );
  assert.equal(
    (await call(`/${REAPI}.Capabilities/GetCapabilities`, capsRequest, { 'content-type': 'application/json' }))
      .httpStatus,
    415,
  );
});

test('a compressed message is UNIMPLEMENTED; a unary call without a message, cut inside one, or with a bad flag byte, is INVALID_ARGUMENT', async () => {
  const compressed = await call(
    `/${REAPI}.Capabilities/GetCapabilities`,
    framed(Buffer.from([1, 2, 3]), { compressed: true }),
    { 'grpc-encoding': 'gzip' },
  );
  assert.equal(compressed.grpcStatus, '12');
  assert.equal((await call(`/${REAPI}.Capabilities/GetCapabilities`, Buffer.alloc(0))).grpcStatus, '3');
  assert.equal((await call(`/${REAPI}.Capabilities/GetCapabilities`, capsRequest.subarray(0, 3))).grpcStatus, '3');
  const two = Buffer.concat([capsRequest, capsRequest]);
  assert.equal((await call(`/${REAPI}.Capabilities/GetCapabilities`, two)).grpcStatus, '3');
  // A first byte that is neither 0 nor 1 is a malformed frame, not a compressed one.
  const badFlag = Buffer.from(capsRequest);
  badFlag[0] = 0x37;
  const r = await call(`/${REAPI}.Capabilities/GetCapabilities`, badFlag);
  assert.equal(r.grpcStatus, '3');
  assert.match(r.grpcMessage ?? '', /first byte \(the compressed flag\) is 55, not 0 or 1/);
});

test('grpc-timeout ends a call that outlives it with DEADLINE_EXCEEDED', async () => {
  // A Write whose client never finishes: only the deadline can end it.
  const write = protoType('google.bytestream.WriteRequest')
    .encode({ resourceName: `uploads/u/blobs/${'a'.repeat(64)}/10`, writeOffset: 0, data: Buffer.alloc(3) })
    .finish();
  const t0 = performance.now();
  const r = await call('/google.bytestream.ByteStream/Write', framed(write), { 'grpc-timeout': '200m' }, true);
  assert.equal(r.grpcStatus, '4');
  assert.ok(performance.now() - t0 < 5000);
});

test('a grpc-timeout beyond what a timer can hold (99999999H) is no deadline, not an immediate DEADLINE_EXCEEDED', async () => {
  const stream = session.request({
    ':method': 'POST',
    ':path': `/${REAPI}.Capabilities/GetCapabilities`,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': '99999999H',
  });
  const status = new Promise<string | undefined>((resolve) => {
    let got: string | undefined;
    const take = (hs: http2.IncomingHttpHeaders) => {
      if (hs['grpc-status'] !== undefined) got = String(hs['grpc-status']);
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('error', () => undefined);
    stream.on('close', () => resolve(got));
    stream.resume(); // the reply's message is not looked at, only its status
  });
  stream.write(capsRequest.subarray(0, 3));
  await new Promise((r) => setTimeout(r, 100)); // the request is still arriving
  stream.end(capsRequest.subarray(3));
  assert.equal(await status, '0');
});

test('a message above the receive limit is RESOURCE_EXHAUSTED and the connection keeps serving', async () => {
  const big = Buffer.alloc(5);
  big.writeUInt32BE(64 * 1024 * 1024, 1); // the prefix alone announces 64 MiB
  const r = await call('/google.bytestream.ByteStream/Write', big, {}, true);
  assert.equal(r.grpcStatus, '8');
  assert.equal((await call(`/${REAPI}.Capabilities/GetCapabilities`, capsRequest)).grpcStatus, '0');
});

test('an upload whose request stream ends inside a message is ABORTED and stays resumable (a cut connection looks like this)', async () => {
  const data = blob(2 * 1024 * 1024, 9); // spooled: >= 1 MiB
  const resourceName = uploadName(data);
  const Write = protoType('google.bytestream.WriteRequest');
  const first = framed(Write.encode({ resourceName, writeOffset: 0, data: data.subarray(0, 65536) }).finish());
  const second = framed(
    Write.encode({ resourceName, writeOffset: 65536, data: data.subarray(65536, 131072) }).finish(),
  );
  const r = await call('/google.bytestream.ByteStream/Write', Buffer.concat([first, second.subarray(0, 1000)]));
  assert.equal(r.grpcStatus, '10', r.grpcMessage);
  const status = await unary<{ committedSize: unknown; complete: boolean }>(h.bs, 'QueryWriteStatus', { resourceName });
  assert.equal(Number(status.committedSize), 65536);
  assert.equal(status.complete, false);
});

test('the server announces a bound on concurrent calls per connection', async () => {
  await new Promise<void>((resolve) =>
    session.remoteSettings.maxConcurrentStreams !== undefined
      ? resolve()
      : session.once('remoteSettings', () => resolve()),
  );
  assert.equal(session.remoteSettings.maxConcurrentStreams, 1000);
});

test('a unary request that stops sending before its end is ABORTED after bodyIdleTimeout', async () => {
  const idle = await startHarness({ bodyIdleTimeoutMs: 300 });
  const s = http2.connect(`http://${idle.server.address}`);
  s.on('error', () => undefined);
  try {
    const got = await new Promise<{ grpcStatus?: string; ms: number }>((resolve, reject) => {
      const t0 = performance.now();
      const stream = s.request({
        ':method': 'POST',
        ':path': `/${REAPI}.ContentAddressableStorage/FindMissingBlobs`,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let grpcStatus: string | undefined;
      const take = (hs: http2.IncomingHttpHeaders) =>
        void (hs['grpc-status'] !== undefined && (grpcStatus = String(hs['grpc-status'])));
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('error', reject);
      stream.on('close', () => resolve({ grpcStatus, ms: performance.now() - t0 }));
      stream.write(Buffer.from([0, 0, 0, 0, 100, 0x0a])); // announces 100 bytes, sends 1, never ends
      setTimeout(() => reject(new Error('no status within 5 s: the stalled call was never ended')), 5000).unref();
      stream.resume();
    });
    assert.equal(got.grpcStatus, '10');
    assert.ok(got.ms < 3000, `ended after ${got.ms} ms`);
  } finally {
    s.close();
    await idle.close();
  }
});

test('the metrics count the status the client was sent, also when the transport answered before the handler', async () => {
  const metrics = createMetrics({ processMetrics: false });
  const m = await startHarness({}, new MemoryStore(), metrics);
  const own = http2.connect(`http://${m.server.address}`);
  own.on('error', () => undefined);
  try {
    const compressed = await call(
      `/${REAPI}.Capabilities/GetCapabilities`,
      framed(Buffer.from([1, 2, 3]), { compressed: true }),
      { 'grpc-encoding': 'gzip' },
      false,
      own,
    );
    assert.equal(compressed.grpcStatus, '12');
    const write = protoType('google.bytestream.WriteRequest')
      .encode({ resourceName: `uploads/u/blobs/${'a'.repeat(64)}/10`, writeOffset: 0, data: Buffer.alloc(3) })
      .finish();
    const late = await call(
      '/google.bytestream.ByteStream/Write',
      framed(write),
      { 'grpc-timeout': '100m' },
      true,
      own,
    );
    assert.equal(late.grpcStatus, '4');
    assert.equal((await call(`/${REAPI}.Capabilities/NoSuchMethod`, capsRequest, {}, false, own)).grpcStatus, '12');
    await new Promise((r) => setTimeout(r, 100)); // the handler settles after the status went out
    const text = await metrics.render();
    assert.match(text, /hoard_requests_total\{[^}]*method="GetCapabilities"[^}]*code="UNIMPLEMENTED"[^}]*\} 1/, text);
    assert.match(text, /hoard_requests_total\{[^}]*method="Write"[^}]*code="DEADLINE_EXCEEDED"[^}]*\} 1/, text);
    assert.match(
      text,
      /hoard_requests_total\{[^}]*method="\(unknown\)"[^}]*code="UNIMPLEMENTED"[^}]*\} 1/,
      'an unknown path is counted, not as a label of its own',
    );
  } finally {
    own.close();
    await m.close();
  }
});
