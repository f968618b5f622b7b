// The peek over real loopback sockets: it answers the preface with its SETTINGS, waits for
// both the first header block and the acknowledgement, cuts the acknowledgement out, and
// gives up at once on what is not HTTP/2 (at the deadline on a client that sends nothing).
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { peekFirstRequest, type PeekOutcome } from './connection-peek.ts';
import { CLIENT_PREFACE, Flag, frameHeader, FrameType, headerBlockFrames } from './h2-frames.ts';
import { encodeHeaderBlock } from './hpack-codec.ts';

const SETTINGS_PAYLOAD = Buffer.from([0, 3, 0, 0, 0, 100]); // MAX_CONCURRENT_STREAMS 100
const CLIENT_SETTINGS = frameHeader(0, FrameType.SETTINGS, 0, 0);
const ACK = frameHeader(0, FrameType.SETTINGS, Flag.ACK, 0);
const WINDOW_UPDATE = Buffer.concat([frameHeader(4, 0x8, 0, 0), Buffer.from([0, 0, 1, 0])]);
const request = (authority: string) =>
  Buffer.concat(
    headerBlockFrames(
      1,
      encodeHeaderBlock(
        [
          [':method', 'POST'],
          [':path', '/x'],
          [':authority', authority],
        ].map(([name, value]) => ({ name: name!, value: value!, sensitive: false })),
      ),
      true,
    ),
  );

/** A connected pair: `client` writes, the peek runs on the server side. */
async function peeking(timeoutMs = 5000): Promise<{
  client: Socket;
  fromServer: () => Buffer;
  outcome: Promise<PeekOutcome>;
  close(): void;
}> {
  let resolveOutcome!: (o: PeekOutcome) => void;
  const outcome = new Promise<PeekOutcome>((resolve) => (resolveOutcome = resolve));
  let serverSide: Socket | undefined;
  const server = net.createServer((socket) => {
    serverSide = socket;
    peekFirstRequest(socket, { settings: SETTINGS_PAYLOAD, maxBytes: 64 * 1024, timeoutMs }, resolveOutcome);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  let got = Buffer.alloc(0);
  client.on('data', (b: Buffer) => (got = Buffer.concat([got, b])));
  return {
    client,
    fromServer: () => got,
    outcome,
    close() {
      client.destroy();
      serverSide?.destroy();
      server.close();
    },
  };
}

test('a client that waits for SETTINGS: the SETTINGS goes out after the preface, the acknowledgement is cut', async () => {
  const p = await peeking();
  try {
    p.client.write(Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS]));
    await sleep(30);
    assert.deepEqual(
      p.fromServer(),
      Buffer.concat([frameHeader(SETTINGS_PAYLOAD.length, FrameType.SETTINGS, 0, 0), SETTINGS_PAYLOAD]),
    );
    const first = request('alice:pw@h:1');
    p.client.write(Buffer.concat([ACK, WINDOW_UPDATE, first]));
    const outcome = await p.outcome;
    assert.equal(outcome.authority, 'alice:pw@h:1');
    assert.deepEqual(outcome.bytes, Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS, WINDOW_UPDATE, first]));
  } finally {
    p.close();
  }
});

test('a client that sends its request first: the peek still waits for the acknowledgement', async () => {
  const p = await peeking();
  try {
    const first = request('h:1');
    p.client.write(Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS, first]));
    let done = false;
    void p.outcome.then(() => (done = true));
    await sleep(30);
    assert.equal(done, false, 'the peek ended before the acknowledgement');
    p.client.write(ACK);
    const outcome = await p.outcome;
    assert.equal(outcome.authority, 'h:1');
    assert.deepEqual(outcome.bytes, Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS, first]));
  } finally {
    p.close();
  }
});

test('not HTTP/2: handed on at once as it is, nothing written to the client', async () => {
  const p = await peeking();
  try {
    p.client.write('GET / HTTP/1.1\r\n\r\n');
    const outcome = await p.outcome;
    assert.equal(outcome.authority, undefined);
    assert.equal(outcome.bytes.toString(), 'GET / HTTP/1.1\r\n\r\n');
    assert.equal(p.fromServer().length, 0);
  } finally {
    p.close();
  }
});

test('a client that sends no request: handed on at the deadline, its acknowledgement cut', async () => {
  const p = await peeking(100);
  try {
    p.client.write(Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS, ACK]));
    const outcome = await p.outcome;
    assert.equal(outcome.authority, undefined);
    assert.deepEqual(outcome.bytes, Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS]));
  } finally {
    p.close();
  }
});

test('a first header block that does not decode: handed on as it is for nghttp2 to refuse', async () => {
  const p = await peeking();
  try {
    const bad = Buffer.concat([frameHeader(2, FrameType.HEADERS, Flag.END_HEADERS, 1), Buffer.from([0xff, 0x7f])]);
    p.client.write(Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS, ACK, bad]));
    const outcome = await p.outcome;
    assert.equal(outcome.authority, undefined);
    assert.deepEqual(outcome.bytes, Buffer.concat([CLIENT_PREFACE, CLIENT_SETTINGS, bad]));
  } finally {
    p.close();
  }
});
