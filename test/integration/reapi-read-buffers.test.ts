// ByteStream Reads of entries too big for the read cache go out of reusable buffers
// (src/core/buffer-pool.ts). A buffer handed back before the transport has written it
// would be refilled by the next read while still queued: clients would get another blob's
// bytes. Two tests pin this from both sides of node:http2: the stalled-Read test (bytes held
// back by the client's flow-control window) and the stalled-socket test (bytes framed by
// nghttp2 but waiting for the socket: the Bazel e2e failure "Expected digest ... does not
// match received digest", which the transport's empty-write completion caused). The
// concurrent-reads test is a plain byte-exactness regression over rounds.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDiskStore } from '../../src/storage/disk/disk-store.ts';
import http2 from 'node:http2';
import { once } from 'node:events';
import { protoType } from '../../src/core/proto.ts';
import { startTcpRelay } from '../helpers/tcp-relay.ts';
import { blob, chunks, readAll, readName, startHarness, uploadName, writeMessages } from './reapi-harness.ts';

/** A ByteStream Read sent on a raw HTTP/2 session: its stream, and its reply body once it ends. */
function rawRead(
  session: http2.ClientHttp2Session,
  resourceName: string,
): { stream: http2.ClientHttp2Stream; body: Promise<Buffer> } {
  const req = Buffer.from(protoType('google.bytestream.ReadRequest').encode({ resourceName }).finish());
  const frame = Buffer.alloc(5 + req.length);
  frame.writeUInt32BE(req.length, 1);
  req.copy(frame, 5);
  const stream = session.request({
    ':method': 'POST',
    ':path': '/google.bytestream.ByteStream/Read',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.end(frame);
  const parts: Buffer[] = [];
  const body = new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(parts)));
  });
  return { stream, body };
}

/**
 * A ByteStream Read on a raw HTTP/2 stream whose reader stops after the first bytes until
 * `resume()`: with its 64 KiB window spent, the rest of the reply waits in the server,
 * queued but not written. (grpc-js clients keep reading below a paused call.)
 */
function stalledRead(
  address: string,
  resourceName: string,
): { firstBytes: Promise<void>; resume(): void; bytes: Promise<Buffer>; close(): void } {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => undefined);
  const { stream, body } = rawRead(session, resourceName);
  const firstBytes = new Promise<void>((resolve) =>
    stream.once('data', () => {
      stream.pause();
      resolve();
    }),
  );
  return { firstBytes, resume: () => stream.resume(), bytes: body, close: () => session.close() };
}

/** The data of the ReadResponses in a raw gRPC reply body (one data field per message). */
function readResponseData(body: Buffer): Buffer {
  const out: Buffer[] = [];
  const ReadResponse = protoType('google.bytestream.ReadResponse');
  for (let at = 0; at < body.length;) {
    const len = body.readUInt32BE(at + 1);
    out.push(
      Buffer.from((ReadResponse.decode(body.subarray(at + 5, at + 5 + len)) as unknown as { data: Uint8Array }).data),
    );
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
          const back = await readAll(h.bs, readName(data));
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

/**
 * A Read held up by a client that stops reading must keep its buffers while other Reads of
 * the same size come and go. `smallEntryBytes` decides where the blobs live: segment
 * entries (read whole into one pooled buffer) or files of their own (read through
 * Entry.file in pooled chunks).
 */
async function heldReadKeepsItsBuffers(size: number, seed: number, smallEntryBytes?: number): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoard-reapi-readbuf-'));
  const store = await openDiskStore({ dir: path.join(dir, 'store'), maxBytes: 0, durability: 'none', smallEntryBytes });
  // With the client's 64 KiB window spent, most of the Read stays queued in the server.
  const h = await startHarness({ partialUploadDir: path.join(dir, 'partial') }, store);
  try {
    const held = blob(size, seed);
    const others = Array.from({ length: 16 }, (_, i) => blob(size, seed + 100 + i)); // same pool class
    for (const data of [held, ...others])
      assert.equal(await writeMessages(h.bs, chunks(uploadName(data), data)), data.byteLength);
    const stalled = stalledRead(h.server.address, readName(held));
    await stalled.firstBytes;
    for (let round = 0; round < 3; round++) {
      const back = await Promise.all(others.map((d) => readAll(h.bs, readName(d))));
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
}

test('a Read held up by a client that stops reading keeps its buffer while other Reads come and go', () =>
  heldReadKeepsItsBuffers(200_000, 1));

test('Reads whose bytes wait behind a stalled socket keep their buffers until the socket took them', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoard-reapi-readbuf-'));
  const store = await openDiskStore({ dir: path.join(dir, 'store'), maxBytes: 0, durability: 'none' });
  const h = await startHarness({ partialUploadDir: path.join(dir, 'partial') }, store);
  const relay = await startTcpRelay(h.server.address);
  // A client that grants a window far larger than the replies: nothing waits on flow
  // control, so the server frames every message at once and only the socket holds it back
  // (the Bazel case: grpc-java grants 1 MiB per stream).
  const session = http2.connect(`http://127.0.0.1:${relay.port}`, { settings: { initialWindowSize: 2 ** 31 - 1 } });
  session.on('error', () => undefined);
  try {
    await once(session, 'connect');
    session.setLocalWindowSize(2 ** 31 - 1);
    // One message per Read (under the 256 KiB read chunk), so each buffer's release rides on
    // the write queued first; 16 MB in all, well past what the stalled sockets buffer.
    const held = Array.from({ length: 80 }, (_, i) => blob(200_000, 300 + i));
    const others = Array.from({ length: 16 }, (_, i) => blob(200_000, 400 + i)); // same pool class
    for (const data of [...held, ...others])
      assert.equal(await writeMessages(h.bs, chunks(uploadName(data), data, { chunk: 256 * 1024 })), data.byteLength);
    relay.stall();
    const replies = held.map((d) => rawRead(session, readName(d)).body);
    // The server has framed the held replies by now; Reads on a direct connection take
    // pooled buffers meanwhile (this failed 3 runs out of 3 while the transport signalled
    // "written" with an empty write after the data).
    await new Promise((r) => setTimeout(r, 300));
    for (let round = 0; round < 3; round++) {
      const back = await Promise.all(others.map((d) => readAll(h.bs, readName(d))));
      back.forEach((b, i) => assert.ok(b.equals(others[i]!), `other read ${i} in round ${round}`));
    }
    relay.release();
    const wrong: number[] = [];
    (await Promise.all(replies)).forEach((body, i) => {
      if (!readResponseData(body).equals(held[i]!)) wrong.push(i);
    });
    assert.deepEqual(wrong, [], 'held-up Reads that got bytes other than their blob');
  } finally {
    session.destroy();
    relay.close();
    await h.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

// Entries in files of their own (above smallEntryBytes) go out through Entry.file into the
// Read's own pooled buffers: the same guarantees, from the file side.
test('concurrent Reads of file-held entries, whole and from offsets, are byte-exact, round after round', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoard-reapi-readbuf-'));
  const store = await openDiskStore({
    dir: path.join(dir, 'store'),
    maxBytes: 0,
    durability: 'none',
    smallEntryBytes: 16 * 1024,
  });
  const h = await startHarness({ partialUploadDir: path.join(dir, 'partial'), readChunkSize: 32 * 1024 }, store);
  try {
    const blobs = Array.from({ length: 32 }, (_, i) => blob(70_000 + i * 4099, 500 + i));
    for (const data of blobs) assert.equal(await writeMessages(h.bs, chunks(uploadName(data), data)), data.byteLength);
    const wrong: string[] = [];
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        blobs.map(async (data, i) => {
          const offset = round === 3 ? 32 * 1024 - 7 + i : 0;
          const limit = round === 3 ? 40_000 : 0;
          const back = await readAll(h.bs, readName(data), offset, limit);
          const want = limit > 0 ? data.subarray(offset, offset + limit) : data;
          if (!back.equals(want)) wrong.push(`round ${round} blob ${i}: ${back.byteLength} bytes, not the stored ones`);
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

test('a Read of a file-held entry held up by its client keeps its buffers while other Reads come and go', () =>
  heldReadKeepsItsBuffers(600_000, 2, 16 * 1024));
