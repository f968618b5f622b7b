// The transcoder frame by frame, over a stand-in socket that delivers chunks exactly where
// the test cuts them: frames pass through byte for byte, header blocks come out rewritten
// and readable without any dynamic table, and broken framing stops it.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { captureHeaderBlocks } from '../../../test/helpers/h2-capture.ts';
import { AuthorityTranscoder } from './authority-transcoder.ts';
import { CLIENT_PREFACE, Flag, frameHeader, FrameType, framesIn, headerBlockFrames } from './h2-frames.ts';
import { encodeHeaderBlock, HpackDecoder, type HeaderField } from './hpack-codec.ts';

class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  paused = true;
  destroyed = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  write(b: Buffer): boolean {
    this.written.push(b);
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

interface Run {
  readonly socket: FakeSocket;
  readonly transcoder: AuthorityTranscoder;
  readonly out: Buffer[];
  readonly malformed: string[];
  /** Delivers `bytes` cut into chunks at `cuts` (offsets), or in one chunk; resolves once what came of it is in `out`. */
  send(bytes: Buffer, cuts?: readonly number[]): Promise<void>;
}

function transcoding(received = Buffer.alloc(0)): Run {
  const socket = new FakeSocket();
  const malformed: string[] = [];
  const transcoder = new AuthorityTranscoder(socket as unknown as Socket, received, {
    maxHeaderListSize: 64 * 1024,
    onMalformed: (why) => malformed.push(why),
  });
  const out: Buffer[] = [];
  transcoder.on('data', (b: Buffer) => out.push(b));
  transcoder.start();
  return {
    socket,
    transcoder,
    out,
    malformed,
    async send(bytes, cuts = []) {
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        if (cut > at) socket.emit('data', bytes.subarray(at, cut));
        at = cut;
      }
      await tick(); // a readable hands out what was pushed before its first read a tick later
    },
  };
}

const frame = (type: number, flags: number, streamId: number, payload: Buffer) =>
  Buffer.concat([frameHeader(payload.length, type, flags, streamId), payload]);
const f = (name: string, value: string): HeaderField => ({ name, value, sensitive: false });
const REQUEST = [f(':method', 'POST'), f(':scheme', 'http'), f(':path', '/p'), f(':authority', 'alice:pw@h:1')];
const SETTINGS = frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 1, 0, 0]));
const DATA = frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('0123456789'));
const AUTH = `Basic ${Buffer.from('alice:pw').toString('base64')}`;

/** The frames of `bytes` (which must hold whole frames). */
/** Each rewritten header block of `out` (after the preface), decoded on its own. */
function blocksOf(out: Buffer[]): { streamId: number; endStream: boolean; fields: Record<string, string> }[] {
  const blocks = [];
  let open: { streamId: number; endStream: boolean; parts: Buffer[] } | undefined;
  for (const { header, payload } of framesIn(Buffer.concat(out).subarray(CLIENT_PREFACE.length))) {
    if (header.type === FrameType.HEADERS) {
      assert.equal(header.flags & (Flag.PADDED | Flag.PRIORITY), 0, 'padding or priority left in');
      open = { streamId: header.streamId, endStream: (header.flags & Flag.END_STREAM) !== 0, parts: [] };
    }
    if (header.type !== FrameType.HEADERS && header.type !== FrameType.CONTINUATION) continue;
    open!.parts.push(payload);
    if (header.flags & Flag.END_HEADERS) {
      const fields = Object.fromEntries(
        new HpackDecoder().decode(Buffer.concat(open!.parts)).map((x) => [x.name, x.value]),
      );
      blocks.push({ streamId: open!.streamId, endStream: open!.endStream, fields });
    }
  }
  return blocks;
}

test('padding and priority go, CONTINUATION is joined, the rest passes byte for byte, across every chunk cut', async () => {
  const block = encodeHeaderBlock(REQUEST);
  const padded = Buffer.concat([
    Buffer.from([3]),
    Buffer.from([0, 0, 0, 0, 16]),
    block.subarray(0, 5),
    Buffer.alloc(3),
  ]);
  const input = Buffer.concat([
    CLIENT_PREFACE,
    SETTINGS,
    frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, padded),
    frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(5)),
    DATA,
  ]);
  for (let cut = 1; cut < input.length; cut++) {
    const run = transcoding();
    await run.send(input, [cut, cut + 1]);
    const bytes = Buffer.concat(run.out);
    assert.deepEqual(
      bytes.subarray(0, CLIENT_PREFACE.length + SETTINGS.length),
      Buffer.concat([CLIENT_PREFACE, SETTINGS]),
    );
    assert.deepEqual(bytes.subarray(bytes.length - DATA.length), DATA, `cut at ${cut}`);
    assert.deepEqual(blocksOf(run.out), [
      {
        streamId: 1,
        endStream: false,
        fields: { ':method': 'POST', ':scheme': 'http', ':path': '/p', ':authority': 'h:1', authorization: AUTH },
      },
    ]);
    assert.deepEqual(run.malformed, []);
  }
});

test("nghttp2's blocks, dynamic table and all, come out rewritten and readable on their own, in random chunks", async () => {
  const requests = Array.from({ length: 200 }, (_, i) => ({
    ':method': 'POST',
    ':scheme': 'http',
    ':path': `/s/M${i % 7}`,
    ':authority': i % 50 === 49 ? 'h:1' : 'alice:pw@h:1',
    'x-value': `${i}`.repeat(1 + (i % 90)),
    ...(i % 3 === 0 ? { authorization: 'Bearer explicit' } : {}),
  }));
  const blocks = await captureHeaderBlocks(requests, { headerTableSize: 512 });
  const input = Buffer.concat([
    CLIENT_PREFACE,
    SETTINGS,
    ...blocks.flatMap((b, i) => [frame(FrameType.HEADERS, Flag.END_HEADERS, 2 * i + 1, b), DATA]),
  ]);
  // Cuts every 1 to 300 bytes, from a fixed sequence.
  const cuts: number[] = [];
  for (let at = 0, k = 1; at < input.length; k = (k * 31 + 7) % 300) cuts.push((at += 1 + k));
  const run = transcoding(input.subarray(0, 40)); // a peek read the first 40 bytes
  await run.send(input.subarray(40), cuts);
  const out = blocksOf(run.out);
  assert.equal(out.length, requests.length);
  out.forEach((b, i) => {
    const want = requests[i]!;
    assert.equal(b.streamId, 2 * i + 1);
    assert.equal(b.fields[':authority'], 'h:1');
    assert.equal(b.fields['x-value'], want['x-value']);
    assert.equal(b.fields['authorization'], want.authorization ?? (want[':authority'] === 'h:1' ? undefined : AUTH));
  });
});

test('a rewritten block larger than a frame goes out as HEADERS and CONTINUATION, END_STREAM on the first', async () => {
  const run = transcoding();
  const block = encodeHeaderBlock([...REQUEST, f('x-big', 'b'.repeat(40_000))]);
  await run.send(Buffer.concat([CLIENT_PREFACE, ...headerBlockFrames(3, block, true)]));
  const frames = [...framesIn(Buffer.concat(run.out).subarray(CLIENT_PREFACE.length))];
  assert.deepEqual(
    frames.map((x) => [x.header.type, x.header.flags, x.header.length <= 16_384]),
    [
      [FrameType.HEADERS, Flag.END_STREAM, true],
      [FrameType.CONTINUATION, 0, true],
      [FrameType.CONTINUATION, Flag.END_HEADERS, true],
    ],
  );
  assert.equal(blocksOf(run.out)[0]!.fields['x-big']!.length, 40_000);
});

test('server-to-client bytes pass untouched', async () => {
  const run = transcoding();
  const bytes = Buffer.from('any bytes at all');
  await new Promise<void>((resolve) => run.transcoder.write(bytes, () => resolve()));
  assert.deepEqual(Buffer.concat(run.socket.written), bytes);
});

for (const [what, frames] of [
  [
    'a block that does not decode',
    [frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0x7f]))],
  ],
  ['CONTINUATION without HEADERS', [frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, encodeHeaderBlock(REQUEST))]],
  ['a frame inside a block', [frame(FrameType.HEADERS, 0, 1, encodeHeaderBlock(REQUEST)), DATA]],
  [
    'CONTINUATION of another stream',
    [
      frame(FrameType.HEADERS, 0, 1, Buffer.alloc(0)),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, Buffer.alloc(0)),
    ],
  ],
  ['PUSH_PROMISE from a client', [frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.alloc(4))]],
  [
    'padding longer than the frame',
    [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PADDED, 1, Buffer.from([9, 0x82]))],
  ],
  ['a header list over the limit', [...headerBlockFrames(1, encodeHeaderBlock([f('x', 'y'.repeat(70_000))]), true)]],
] as const) {
  test(`${what}: rewriting stops, the socket is paused, nothing from there on goes to the server`, async () => {
    const run = transcoding();
    await run.send(Buffer.concat([CLIENT_PREFACE, SETTINGS, ...frames, DATA, SETTINGS]));
    assert.equal(run.malformed.length, 1);
    assert.equal(run.socket.paused, true);
    assert.deepEqual(Buffer.concat(run.out), Buffer.concat([CLIENT_PREFACE, SETTINGS]));
    await run.send(SETTINGS); // later bytes are dropped too
    assert.deepEqual(Buffer.concat(run.out), Buffer.concat([CLIENT_PREFACE, SETTINGS]));
    assert.equal(run.malformed.length, 1);
  });
}
