// Rule 7 over gRPC: a client that stalls mid-call must not hold the call forever.
// keepalive only notices dead peers and the connection idle limit ignores open calls, so
// bodyIdleTimeoutMs bounds the time without progress: a stalled Write ends ABORTED with its
// spool kept for resumption, and a Read whose client stops reading is reset (its status
// could not get past the unread messages).
import { status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { casKey, type Key } from '../../src/core/keys.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Entry, ReadOptions } from '../../src/storage/store.ts';
import {
  blob,
  chunks,
  codeOf,
  openWrite,
  readAll,
  readName,
  sha256,
  startHarness,
  unary,
  uploadName,
  writeMessages,
} from './reapi-harness.ts';

const IDLE = 300;

test('a Write stalled past bodyIdleTimeoutMs is ABORTED, publishes nothing, and resumes from its committed offset', async () => {
  const h = await startHarness({ bodyIdleTimeoutMs: IDLE });
  try {
    const data = blob(1024 * 1024 + 5000, 61);
    const name = uploadName(data);
    const msgs = [...chunks(name, data)];
    const w = openWrite(h.bs);
    w.call.write(msgs[0]);
    w.call.write(msgs[1]);
    const t0 = performance.now();
    const err = await w.result.then(
      () => undefined,
      (e: ServiceError) => e,
    );
    const took = performance.now() - t0;
    assert.equal(err?.code, status.ABORTED, err?.details);
    assert.match(err!.details, /bodyIdleTimeout/);
    assert.ok(took >= IDLE - 50 && took < IDLE + 2000, `ended after ${took} ms for a ${IDLE} ms bound`);
    w.call.cancel();
    assert.deepEqual(await h.store.has([casKey(sha256(data))]), [false]);
    const q = await unary<{ committedSize: unknown; complete: boolean }>(h.bs, 'QueryWriteStatus', {
      resourceName: name,
    });
    assert.deepEqual([Number(q.committedSize), q.complete], [2 * 16384, false]);
    // The spool's owner let go: a resume gets it at once and completes a verified blob.
    assert.equal(await writeMessages(h.bs, chunks(name, data, { offset: 2 * 16384 })), data.byteLength);
    assert.ok((await readAll(h.bs, readName(data))).equals(data));
  } finally {
    await h.close();
  }
});

/** A MemoryStore that reports when a read stream it handed out is closed. */
class WatchedStore extends MemoryStore {
  readonly closed: Promise<void>[] = [];
  override async get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    const e = await super.get(key, options);
    if (!e) return e;
    // A stream only (a store reading from disk): in-memory bytes would bypass the stream.
    const stream = e.stream;
    this.closed.push(new Promise((resolve) => (stream as Readable).once('close', () => resolve())));
    return { size: e.size, stream };
  }
}

test('a Read whose client stops reading is ended after bodyIdleTimeoutMs: the store stream is released', async () => {
  const store = new WatchedStore();
  const h = await startHarness({ bodyIdleTimeoutMs: IDLE, readChunkSize: 64 * 1024 }, store);
  try {
    const data = blob(8 * 1024 * 1024, 62);
    await store.put(casKey(sha256(data)), data, { size: data.byteLength });
    const call = (h.bs as unknown as Record<string, (req: unknown) => Readable>)['Read']!.call(h.bs, {
      resourceName: readName(data),
    });
    let received = 0;
    const ended = new Promise<number>((resolve) => {
      call.on('error', (e: ServiceError) => resolve(e.code));
      call.on('end', () => resolve(status.OK));
    });
    // Read one message, then stop reading (the client's window and buffers fill up).
    await new Promise<void>((resolve) =>
      call.once('data', (m: { data: Uint8Array }) => ((received += m.data.byteLength), resolve())),
    );
    call.pause();
    const released = await Promise.race([
      store.closed[0]!.then(() => true),
      new Promise((r) => setTimeout(() => r(false), IDLE + 3000).unref()),
    ]);
    assert.equal(released, true, 'the server let go of the store stream');
    // The server goes on serving, and the stalled call's HTTP/2 stream was reset rather than
    // left holding unread messages: a graceful shutdown does not wait for it.
    assert.equal(await codeOf(readAll(h.bs, readName(data), 0, 10)), 0);
    const t0 = performance.now();
    await h.server.shutdown(5000);
    assert.ok(performance.now() - t0 < 2000, `shutdown waited ${performance.now() - t0} ms for the stalled Read`);
    call.on('data', (m: { data: Uint8Array }) => (received += m.data.byteLength));
    call.resume();
    assert.notEqual(await ended, status.OK);
    assert.ok(received < data.byteLength, `the client got ${received} of ${data.byteLength} bytes and no OK`);
  } finally {
    await h.close();
  }
});
