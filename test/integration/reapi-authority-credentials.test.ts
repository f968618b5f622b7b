// Credentials in the HTTP/2 :authority, the way Bazel sends a grpc://user:password@host URL's
// user info, against a real secured server over real sockets. grpc-js sends the same thing
// when told to ('grpc.default_authority'). Such connections are transcoded
// (src/frontends/reapi/authority-transcoder.ts); every other connection stays native, and a
// diagnostics channel tells which way each went. Many calls on one connection, with metadata
// that changes per call, make the client's HPACK encoder index and evict, which the
// transcoder's decoder must mirror.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status,
  type Client,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { createCallChain } from '../../src/core/call-chain.ts';
import type { Call } from '../../src/core/call.ts';
import { digestOf } from '../../src/core/digest.ts';
import { serviceDefinition, SERVICE_NAMES } from '../../src/frontends/reapi/grpc-definitions.ts';
import {
  CLIENT_PREFACE,
  Flag,
  frameHeader,
  FrameType,
  framesIn,
  headerBlockFrames,
} from '../../src/frontends/reapi/h2-frames.ts';
import { encodeHeaderBlock } from '../../src/frontends/reapi/hpack-codec.ts';
import { connectionChannel } from '../../src/frontends/reapi/plain-listener.ts';
import { startReapiServer } from '../../src/frontends/reapi/reapi-server.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import { makeAccessFixtures, USERS, type AccessFixtures } from '../helpers/access-fixtures.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import {
  blob,
  chunks,
  codeOf,
  openWrite,
  readAll,
  readName,
  unary,
  uploadName,
  writeMessages,
} from './reapi-harness.ts';

let fx: AccessFixtures;
let s: TestServer;
let address: string;

before(async () => {
  fx = await makeAccessFixtures();
  s = await startTestServer({ ...fx.flags, grpcAddress: '127.0.0.1:0' });
  address = s.server.grpcAddress!;
});
after(async () => {
  await s?.close();
  await fx?.close();
});

interface Clients {
  readonly cas: Client;
  readonly bs: Client;
  close(): void;
}

/**
 * CAS and ByteStream clients of `target` on one connection, with `userinfo` (raw, as it goes
 * on the wire) in :authority when given. `own`: a connection of their own, not shared with
 * other clients of the same target and options (grpc-js pools subchannels per process).
 */
function clients(target: string, userinfo?: string, own = false): Clients {
  const opts = {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    ...(userinfo === undefined ? {} : { 'grpc.default_authority': `${userinfo}@${target}` }),
    ...(own ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  };
  const mk = (name: string): Client => {
    const Ctor = makeGenericClientConstructor(serviceDefinition(name) as unknown as ServiceDefinition, name);
    return new Ctor(target, credentials.createInsecure(), opts);
  };
  const cas = mk(SERVICE_NAMES.cas);
  const bs = mk(SERVICE_NAMES.byteStream);
  return { cas, bs, close: () => [cas, bs].forEach((c) => c.close()) };
}

const userinfo = (user: keyof typeof USERS, password: string = USERS[user]) =>
  `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;

/** Metadata that differs per call and is large enough to fill and evict the 4 KiB table. */
function churn(i: number, extra: Record<string, string> = {}): Metadata {
  const m = new Metadata();
  m.set('x-call', `${i}-${'c'.repeat(150 + (i % 200))}`);
  for (const [k, v] of Object.entries(extra)) m.set(k, v);
  return m;
}

test('user info in :authority: batch uploads, FindMissingBlobs and a multi-MiB ByteStream Write and Read, all on one connection', async () => {
  const c = clients(address, userinfo('alice'));
  try {
    const stored: Buffer[] = [];
    for (let i = 0; i < 120; i++) {
      const data = blob(100 + i, i + 1000);
      const res = await unary<{ responses: { status?: { code?: number } }[] }>(
        c.cas,
        'BatchUpdateBlobs',
        { requests: [{ digest: digestOf(data), data }] },
        churn(i),
      );
      assert.equal(res.responses[0]!.status?.code ?? 0, 0, `upload ${i}`);
      stored.push(data);
    }
    const absent = blob(77, 99);
    const missing = await unary<{ missingBlobDigests: { hash: string }[] }>(
      c.cas,
      'FindMissingBlobs',
      { blobDigests: [...stored.map((d) => digestOf(d)), digestOf(absent)] },
      churn(999),
    );
    assert.deepEqual(
      missing.missingBlobDigests.map((d) => d.hash),
      [digestOf(absent).hash],
    );
    const big = blob(6 * 1024 * 1024 + 17, 5);
    const committed = await writeMessages(c.bs, chunks(uploadName(big), big, { chunk: 64 * 1024 }));
    assert.equal(committed, big.length);
    assert.ok((await readAll(c.bs, readName(big))).equals(big), 'the blob read back differs');
  } finally {
    c.close();
  }
});

test('user info in :authority: a wrong password is UNAUTHENTICATED, a reader may read and not write, explicit metadata wins', async () => {
  const data = Buffer.from('refused over a transcoded connection');
  const update = { requests: [{ digest: digestOf(data), data }] };
  const find = { blobDigests: [digestOf(data)] };
  const wrong = clients(address, userinfo('alice', 'not-her-password'));
  const reader = clients(address, userinfo('reader'));
  try {
    assert.equal(await codeOf(unary(wrong.cas, 'FindMissingBlobs', find)), status.UNAUTHENTICATED);
    assert.equal(await codeOf(unary(wrong.cas, 'BatchUpdateBlobs', update)), status.UNAUTHENTICATED);
    assert.equal(await codeOf(unary(reader.cas, 'BatchUpdateBlobs', update)), status.PERMISSION_DENIED);
    const missing = await unary<{ missingBlobDigests: unknown[] }>(reader.cas, 'FindMissingBlobs', find);
    assert.equal(missing.missingBlobDigests.length, 1, 'a refused write stored something');
    // The reader's user info, alice's credentials as metadata: the metadata is what counts.
    const asAlice = churn(0, { authorization: fx.basic('alice') });
    const res = await unary<{ responses: unknown[] }>(reader.cas, 'BatchUpdateBlobs', update, asAlice);
    assert.equal(res.responses.length, 1);
  } finally {
    wrong.close();
    reader.close();
  }
});

test('a client without user info stays on the native path (never transcoded) and works as before', async () => {
  // In-process, so this thread hears the listener's diagnostics channel (with --workers 2 the
  // test server's listeners run in other threads).
  const seen: { transcoded: boolean; socket: net.Socket }[] = [];
  const peers: { authority: string | undefined; authorization: string | undefined; address: string | undefined }[] = [];
  const record = (m: unknown) => seen.push(m as { transcoded: boolean; socket: net.Socket });
  const chain = createCallChain([
    {
      name: 'record',
      admit: (call: Call) => {
        peers.push({
          authority: call.header(':authority'),
          authorization: call.header('authorization'),
          address: call.peer.address,
        });
      },
    },
  ]);
  subscribe(connectionChannel.name, record);
  const server = await startReapiServer({ store: new MemoryStore(), address: '127.0.0.1:0', chain });
  const plain = clients(server.address, undefined, true);
  const withUser = clients(server.address, userinfo('bob'), true);
  try {
    const data = blob(1000, 3);
    for (let i = 0; i < 20; i++)
      await unary(plain.cas, 'BatchUpdateBlobs', { requests: [{ digest: digestOf(data), data }] }, churn(i));
    assert.deepEqual(
      seen.map((c) => c.transcoded),
      [false],
    );
    // Nothing in JavaScript reads the native connection: nghttp2 took the socket's handle.
    assert.equal(seen[0]!.socket.listenerCount('data'), 0);
    await unary(withUser.cas, 'FindMissingBlobs', { blobDigests: [digestOf(data)] });
    assert.deepEqual(
      seen.map((c) => c.transcoded),
      [false, true],
    );
    assert.equal(seen[1]!.socket.listenerCount('data'), 1, 'the transcoder reads the user-info connection');
    const [native, transcoded] = [peers[0]!, peers.at(-1)!];
    assert.deepEqual(native, { authority: server.address, authorization: undefined, address: '127.0.0.1' });
    // The transcoded call: user info moved to authorization, and the client's real address.
    assert.deepEqual(transcoded, {
      authority: server.address,
      authorization: `Basic ${Buffer.from(`bob:${USERS.bob}`).toString('base64')}`,
      address: '127.0.0.1',
    });
  } finally {
    unsubscribe(connectionChannel.name, record);
    plain.close();
    withUser.close();
    await server.shutdown(2000);
  }
});

test('many concurrent connections, with and without user info', async () => {
  const conns = Array.from({ length: 24 }, (_, i) =>
    clients(address, i % 2 === 0 ? userinfo('carol') : undefined, true),
  );
  const basic = fx.basic('carol');
  try {
    await Promise.all(
      conns.map(async (c, i) => {
        const extra: Record<string, string> = i % 2 === 0 ? {} : { authorization: basic };
        for (let k = 0; k < 8; k++) {
          const data = blob(2000 + k, i * 100 + k);
          await unary(c.cas, 'BatchUpdateBlobs', { requests: [{ digest: digestOf(data), data }] }, churn(k, extra));
          const m = churn(k + 50, extra);
          const missing = await unary<{ missingBlobDigests: unknown[] }>(
            c.cas,
            'FindMissingBlobs',
            { blobDigests: [digestOf(data)] },
            m,
          );
          assert.equal(missing.missingBlobDigests.length, 0);
        }
        if (i % 2 === 0) {
          // (writeMessages sends no metadata: only the user-info connections can write this way.)
          const big = blob(512 * 1024 + i, i);
          assert.equal(await writeMessages(c.bs, chunks(uploadName(big), big, { chunk: 32 * 1024 })), big.length);
        }
      }),
    );
  } finally {
    for (const c of conns) c.close();
  }
});

/** A raw HTTP/2 connection to `target`: the preface and an empty SETTINGS are sent. */
async function rawConnection(
  target: string,
): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let got = Buffer.alloc(0);
  socket.on('data', (b: Buffer) => (got = Buffer.concat([got, b])));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(Buffer.concat([CLIENT_PREFACE, frameHeader(0, FrameType.SETTINGS, 0, 0)]));
  return { socket, received: () => got, closed };
}

test('a malformed header block on a transcoded connection ends that connection with GOAWAY(COMPRESSION_ERROR), and only it', async () => {
  const { socket, received, closed } = await rawConnection(address);
  await sleep(50);
  socket.write(frameHeader(0, FrameType.SETTINGS, Flag.ACK, 0)); // acknowledges the server's SETTINGS
  const request = encodeHeaderBlock(
    [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/build.bazel.remote.execution.v2.Capabilities/GetCapabilities'],
      [':authority', `${userinfo('alice')}@${address}`],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
    ].map(([name, value]) => ({ name: name!, value: value!, sensitive: false })),
  );
  socket.write(Buffer.concat(headerBlockFrames(1, request, true)));
  // The next request's block refers to a dynamic table entry that does not exist.
  const bad = Buffer.from([0xff, 0xff, 0xff, 0x7f]);
  socket.write(Buffer.concat([frameHeader(bad.length, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3), bad]));
  await closed;
  const goaway = [...framesIn(received())].find((f) => f.header.type === 0x7);
  assert.ok(goaway, 'no GOAWAY before the close');
  assert.equal(goaway.payload.readUInt32BE(4), http2.constants.NGHTTP2_COMPRESSION_ERROR);
  // The server goes on serving.
  const c = clients(address, userinfo('alice'), true);
  try {
    await unary(c.cas, 'FindMissingBlobs', { blobDigests: [] });
  } finally {
    c.close();
  }
});

test("node:http2's own client with user info in :authority (once reset by nghttp2) gets an answer", async () => {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => undefined);
  try {
    const req = session.request({ ':path': '/', ':authority': `a:b@${address}` }, { endStream: true });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    req.resume();
    assert.equal(headers[':status'], 405); // a GET on a gRPC server, answered, not reset
  } finally {
    session.close();
  }
});

test('what is not HTTP/2 is handed on at once, as it is, and nghttp2 ends it as before', async () => {
  const socket = net.connect(Number(address.slice(address.lastIndexOf(':') + 1)), '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  const started = Date.now();
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => socket.once('close', resolve));
  assert.ok(Date.now() - started < 5000, 'the connection waited for the peek to time out');
});

test('shutdown drains a transcoded upload in flight, and a connection still being peeked at does not hold it', async () => {
  const server = await startReapiServer({ store: new MemoryStore(), address: '127.0.0.1:0' });
  const c = clients(server.address, userinfo('alice'), true);
  const idle = await rawConnection(server.address); // preface and SETTINGS, then nothing
  try {
    const data = blob(600_000, 8);
    const msgs = [...chunks(uploadName(data), data)];
    const w = openWrite(c.bs);
    for (const m of msgs.slice(0, 10)) w.call.write(m);
    await sleep(100);
    let closed = false;
    const stopping = server.shutdown(10_000).then(() => (closed = true));
    await sleep(100);
    assert.equal(closed, false, 'shutdown did not wait for the upload');
    for (const m of msgs.slice(10)) w.call.write(m);
    w.call.end();
    assert.equal(await w.result, data.length);
    const t0 = performance.now();
    await stopping;
    assert.ok(performance.now() - t0 < 5000, 'shutdown waited for the idle connection');
    await idle.closed;
  } finally {
    c.close();
    idle.socket.destroy();
    server.abort();
  }
});
