// The HPACK decoder against nghttp2's encoder (Huffman, incremental indexing, eviction, size
// updates), and the encoder against nghttp2's decoder: a block we encode must come out of a
// real node:http2 server exactly as the fields went in.
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { captureHeaderBlocks } from '../../../test/helpers/h2-capture.ts';
import { CLIENT_PREFACE, FrameType, frameHeader, headerBlockFrames } from './h2-frames.ts';
import { encodeHeaderBlock, HpackDecoder, HpackError, type HeaderField } from './hpack-codec.ts';

/** A small seeded generator, so a failure is reproducible. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0;
  return (n) => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

/** Header values of printable ASCII and latin1 bytes, short and long (long ones evict). */
function randomValue(rnd: (n: number) => number): string {
  const length = rnd(4) === 0 ? rnd(700) : rnd(40);
  let v = '';
  for (let i = 0; i < length; i++) v += String.fromCharCode(rnd(8) === 0 ? 0x80 + rnd(128) : 0x21 + rnd(94));
  return v;
}

function randomRequests(seed: number, count: number): OutgoingHttpHeaders[] {
  const rnd = random(seed);
  const names = Array.from({ length: 30 }, (_, i) => `x-field-${i.toString(36)}${'abcdef'.slice(0, rnd(6))}`);
  return Array.from({ length: count }, () => {
    const h: OutgoingHttpHeaders = {
      ':method': 'POST',
      ':scheme': 'http',
      ':path': `/build.bazel.remote.execution.v2.ContentAddressableStorage/M${rnd(5)}`,
      ':authority': rnd(2) ? `user${rnd(3)}:pw%40${rnd(3)}@127.0.0.1:9092` : '127.0.0.1:9092',
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    for (let i = rnd(8); i > 0; i--) h[names[rnd(names.length)]!] = randomValue(rnd);
    if (rnd(3) === 0) h['grpc-timeout'] = `${rnd(100000)}m`;
    return h;
  });
}

function asObject(fields: readonly HeaderField[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const f of fields) o[f.name] = f.value;
  return o;
}

for (const headerTableSize of [undefined, 0, 64, 256, 1000]) {
  test(`decodes nghttp2's blocks in order, dynamic table mirrored (server table size ${headerTableSize ?? 'default'})`, async () => {
    const requests = randomRequests(headerTableSize ?? 4096, 300);
    const blocks = await captureHeaderBlocks(requests, { headerTableSize });
    const decoder = new HpackDecoder();
    blocks.forEach((block, i) => {
      const got = asObject(decoder.decode(block));
      const want = Object.fromEntries(Object.entries(requests[i]!).map(([k, v]) => [k, String(v)]));
      assert.deepEqual(got, want, `request ${i}`);
    });
  });
}

test('a field the client marks sensitive decodes as sensitive', async () => {
  const [block] = await captureHeaderBlocks([
    { ':method': 'POST', ':path': '/', 'x-secret': 'hush', [http2.sensitiveHeaders]: ['x-secret'] },
  ]);
  const fields = new HpackDecoder().decode(block!);
  assert.equal(fields.find((f) => f.name === 'x-secret')?.sensitive, true);
  assert.equal(fields.find((f) => f.name === ':path')?.sensitive, false);
});

test('a malformed block is an HpackError, and so is every block after it', () => {
  const decoder = new HpackDecoder();
  assert.throws(() => decoder.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])), HpackError); // index out of range
  assert.throws(() => decoder.decode(Buffer.from([0x82])), HpackError);
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0x40, 0x05, 0x61])), HpackError); // truncated literal
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0x3f, 0xe1, 0x7f])), HpackError); // size update over 4096
  assert.deepEqual(new HpackDecoder().decode(Buffer.alloc(0)), []);
});

test('the encoder uses the static table only: indexed when whole, never-indexed when sensitive', () => {
  // :method POST is static entry 3, whole; :authority is entry 1 by name only.
  assert.deepEqual(
    encodeHeaderBlock([
      { name: ':method', value: 'POST', sensitive: false },
      { name: ':authority', value: 'h', sensitive: false },
      { name: 'x', value: 'y', sensitive: true },
    ]),
    Buffer.from([0x83, 0x01, 0x01, 0x68, 0x10, 0x01, 0x78, 0x01, 0x79]),
  );
  // A name index past the 4-bit prefix (authorization is 23) and a long value's length.
  const long = 'v'.repeat(300);
  const block = encodeHeaderBlock([{ name: 'authorization', value: long, sensitive: true }]);
  assert.deepEqual(block.subarray(0, 5), Buffer.from([0x1f, 0x08, 0x7f, 0xad, 0x01]));
  assert.deepEqual(new HpackDecoder().decode(block), [{ name: 'authorization', value: long, sensitive: true }]);
});

/** Sends each block as one request to a node:http2 server over a raw socket; resolves the headers it saw. */
async function serverSees(blocks: readonly Buffer[]): Promise<IncomingHttpHeaders[]> {
  const server = http2.createServer({ settings: { maxHeaderListSize: 1 << 20 } });
  const seen: IncomingHttpHeaders[] = [];
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  server.on('stream', (stream, headers) => {
    seen.push(headers);
    stream.respond({ ':status': 200 }, { endStream: true });
    if (seen.length === blocks.length) done();
  });
  server.on('sessionError', (err) => assert.fail(err));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.on('data', () => undefined);
  socket.write(Buffer.concat([CLIENT_PREFACE, frameHeader(0, FrameType.SETTINGS, 0, 0)]));
  blocks.forEach((block, i) => socket.write(Buffer.concat(headerBlockFrames(2 * i + 1, block, true))));
  try {
    await all;
  } finally {
    socket.destroy();
    server.close();
  }
  return seen;
}

test(
  "nghttp2 decodes the encoder's blocks to the same fields, a long one split into CONTINUATION frames",
  { timeout: 10_000 },
  async () => {
    const rnd = random(7);
    // nghttp2 resets a stream whose :authority has user info: these have none.
    const requests: OutgoingHttpHeaders[] = randomRequests(11, 60).map((h) => ({
      ...h,
      ':authority': '127.0.0.1:9092',
    }));
    requests.push({ ...requests[0]!, 'x-long': 'L'.repeat(40_000) } as OutgoingHttpHeaders); // over one 16 KiB frame
    const blocks = requests.map((h) =>
      encodeHeaderBlock(
        Object.entries(h).map(([name, value]) => ({ name, value: String(value), sensitive: rnd(5) === 0 })),
      ),
    );
    const seen = await serverSees(blocks);
    seen.forEach((headers, i) => {
      for (const [name, value] of Object.entries(requests[i]!))
        assert.equal(headers[name], String(value), `${i} ${name}`);
    });
  },
);
