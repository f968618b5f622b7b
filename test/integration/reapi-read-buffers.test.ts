// ByteStream Reads of entries too big for the read cache go out of reusable buffers
// (src/core/buffer-pool.ts). A buffer handed back before the transport has written it
// would be refilled by the next read while still queued: clients would get another blob's
// bytes. The stalled-Read test below is the one that pins this (it fails when a buffer
// is released as soon as its message is queued); the concurrent-reads test is a plain
// byte-exactness regression over rounds.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDiskStore } from '../../src/storage/disk/disk-store.ts';
import http2 from 'node:http2';
import { protoType } from '../../src/core/proto.ts';
import { blob, chunks, readAll, sha256, startHarness, uploadName, writeMessages } from './reapi-harness.ts';

/**
 * A ByteStream Read on a raw HTTP/2 stream whose reader stops after the first bytes until
 * `resume()`: with its 64 KiB window spent, the rest of the reply waits in the server,
 * queued but not written. (grpc-js clients keep reading below a paused call.)
 */
function stalledRead(address: string, resourceName: string): { firstBytes: Promise<void>; resume(): void; bytes: Promise<Buffer>; close(): void } {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => undefined);
  const req = Buffer.from(protoType('google.bytestream.ReadRequest').encode({ resourceName }).finish());
  const frame = Buffer.alloc(5 + req.length);
  frame.writeUInt32BE(req.length, 1);
  req.copy(frame, 5);
  const stream = session.request({ ':method': 'POST', ':path': '/google.bytestream.ByteStream/Read', 'content-type': 'application/grpc', te: 'trailers' });
  stream.end(frame);
  const parts: Buffer[] = [];
  let first!: () => void;
  const firstBytes = new Promise<void>((r) => (first = r));
  const bytes = new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      if (parts.length === 0) {
        stream.pause();
        first();
      }
      parts.push(c);
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(parts)));
  });
  return { firstBytes, resume: () => stream.resume(), bytes, close: () => session.close() };
}

/** The data of the ReadResponses in a raw gRPC reply body (one data field per message). */
function readResponseData(body: Buffer): Buffer {
  const out: Buffer[] = [];
  const ReadResponse = protoType('google.bytestream.ReadResponse');
  for (let at = 0; at < body.length; ) {
    const len = body.readUInt32BE(at + 1);
    out.push(Buffer.from((ReadResponse.decode(body.subarray(at + 5, at + 5 + len)) as unknown as { data: Uint8Array }).data));
    at += 5 + len;
  }
  return Buffer.concat(out);
}

test('concurrent Reads of large segment entries from reused buffers are byte-exact, round after round', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoard-reapi-readbuf-'));
  const store = await openDiskStore({ dir: path.join(dir, 'store'), maxBytes: 0, durability: 'none' });
  // Small read chunks: each Read is several messages, so buffers stay queued longer.
  const h = await startHarness({ partialUploadDir: path.join(dir, 'partial'), readChunkSize: 32 * 1024 }, store);
  try {
    const blobs = Array.from({ length: 48 }, (_, i) => blob(70_000 + i * 4099, 77 + i));
    for (const data of blobs) assert.equal(await writeMessages(h.bs, chunks(uploadName(data), data)), data.byteLength);
    const wrong: string[] = [];
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        blobs.map(async (data, i) => {
          const back = await readAll(h.bs, `blobs/${sha256(data)}/${data.byteLength}`);
          if (!back.equals(data)) wrong.push(`round ${round} blob ${i}: ${back.byteLength} bytes, not the stored ones`);
        }),
      );
    }
    assert.deepEqual(wrong, []);
  } finally {
    await h.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a Read held up by a client that stops reading keeps its buffer while other Reads come and go', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoard-reapi-readbuf-'));
  const store = await openDiskStore({ dir: path.join(dir, 'store'), maxBytes: 0, durability: 'none' });
  // One 200 KB message per Read: the client's 64 KiB window leaves most of it queued in the server.
  const h = await startHarness({ partialUploadDir: path.join(dir, 'partial') }, store);
  try {
    const held = blob(200_000, 1);
    const others = Array.from({ length: 16 }, (_, i) => blob(200_000, 100 + i)); // same pool class
    for (const data of [held, ...others]) assert.equal(await writeMessages(h.bs, chunks(uploadName(data), data)), data.byteLength);
    const stalled = stalledRead(h.server.address, `blobs/${sha256(held)}/${held.byteLength}`);
    await stalled.firstBytes;
    for (let round = 0; round < 3; round++) {
      const back = await Promise.all(others.map((d) => readAll(h.bs, `blobs/${sha256(d)}/${d.byteLength}`)));
      back.forEach((b, i) => assert.ok(b.equals(others[i]!), `other read ${i} in round ${round}`));
    }
    stalled.resume();
    assert.ok(readResponseData(await stalled.bytes).equals(held), 'the held-up Read got exactly its blob');
    stalled.close();
  } finally {
    await h.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
