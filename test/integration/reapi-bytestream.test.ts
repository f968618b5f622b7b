// ByteStream Read / Write / QueryWriteStatus against a live server: round trips, the
// REAPI early-end rules, and every error code of docs/PROTOCOLS.md §2.6 (rule 7).
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { casKey, type Key } from '../../src/core/keys.ts';
import { MemoryStore } from '../../src/storage/memory-store.ts';
import type { Entry, ReadOptions } from '../../src/storage/store.ts';
import {
  blob,
  chunks,
  codeOf,
  collect,
  type Harness,
  openWrite,
  readAll,
  readName,
  sha256,
  startHarness,
  unary,
  uploadName,
  writeMessages,
} from './reapi-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ readChunkSize: 64 * 1024 });
});
after(() => h.close());

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('write then read round-trips byte-exact, in several messages of at most readChunkSize', async () => {
  const data = blob(300_000, 1);
  assert.equal(await writeMessages(h.bs, chunks(uploadName(data), data)), data.byteLength);
  const msgs = await collect<{ data: Uint8Array }>(h.bs, 'Read', { resourceName: readName(data) });
  assert.ok(msgs.length >= 5, `expected several messages, got ${msgs.length}`);
  assert.ok(msgs.every((m) => m.data.byteLength <= 64 * 1024));
  assert.ok(Buffer.concat(msgs.map((m) => m.data)).equals(data));
});

test('read_offset and read_limit select a range; offset = size is an empty read', async () => {
  const data = blob(10_000, 2);
  await writeMessages(h.bs, chunks(uploadName(data), data));
  const name = readName(data);
  assert.ok((await readAll(h.bs, name, 1000, 500)).equals(data.subarray(1000, 1500)));
  assert.ok((await readAll(h.bs, name, 9000)).equals(data.subarray(9000)));
  assert.equal((await readAll(h.bs, name, 10_000)).byteLength, 0);
  assert.ok((await readAll(h.bs, name, 0, 1_000_000)).equals(data));
});

test('multi-segment instance names namespace the store', async () => {
  const data = blob(5000, 3);
  await writeMessages(h.bs, chunks(uploadName(data, 'team/a/ci'), data));
  assert.ok((await readAll(h.bs, `team/a/ci/blobs/${sha256(data)}/5000`)).equals(data));
  assert.equal(await codeOf(readAll(h.bs, `blobs/${sha256(data)}/5000`)), status.NOT_FOUND);
  assert.equal(await codeOf(readAll(h.bs, `team/b/blobs/${sha256(data)}/5000`)), status.NOT_FOUND);
});

test('the empty blob reads as empty without ever being uploaded', async () => {
  assert.equal((await readAll(h.bs, `blobs/${EMPTY}/0`)).byteLength, 0);
  assert.equal((await readAll(h.bs, `some/instance/blobs/${EMPTY}/0`)).byteLength, 0);
});

test('Read errors reach the client as statuses (no hang): NOT_FOUND, OUT_OF_RANGE, INVALID_ARGUMENT', async () => {
  const data = blob(1000, 4);
  await writeMessages(h.bs, chunks(uploadName(data), data));
  const h1 = sha256(data);
  const cases: [string, number, number, number][] = [
    [`blobs/${'0'.repeat(64)}/10`, 0, 0, status.NOT_FOUND],
    [`blobs/${h1}/1000`, -1, 0, status.OUT_OF_RANGE],
    [`blobs/${h1}/1000`, 1001, 0, status.OUT_OF_RANGE],
    [`blobs/${h1}/1000`, 0, -5, status.INVALID_ARGUMENT],
    [`blobs/${h1}/999`, 0, 0, status.INVALID_ARGUMENT], // right hash, wrong size
    [`blobs/${h1}`, 0, 0, status.INVALID_ARGUMENT],
    [`nonsense`, 0, 0, status.INVALID_ARGUMENT],
    [`uploads/${randomUUID()}/blobs/${h1}/1000`, 0, 0, status.INVALID_ARGUMENT],
    [`blobs/blake3/${h1}/1000`, 0, 0, status.INVALID_ARGUMENT],
    [`compressed-blobs/zstd/${h1}/1000`, 0, 10, status.INVALID_ARGUMENT],
    [`compressed-blobs/brotli/${h1}/1000`, 0, 0, status.INVALID_ARGUMENT],
  ];
  for (const [resourceName, off, lim, code] of cases) {
    const err = await readAll(h.bs, resourceName, off, lim).then(
      () => ({ code: 0, details: 'ok' }),
      (e: { code: number; details: string }) => e,
    );
    assert.equal(err.code, code, `${resourceName} @${off}+${lim}: ${err.details}`);
    assert.ok(err.details.length > 10, 'the message says what is wrong');
  }
});

/** A MemoryStore whose read streams give out after `after` bytes: failing, or ending early. */
class BrokenReadStore extends MemoryStore {
  mode: 'fail' | 'end' = 'fail';
  override async get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    const e = await super.get(key, options);
    if (!e) return e;
    const mode = this.mode;
    async function* broken(): AsyncGenerator<Buffer> {
      let n = 0;
      for await (const chunk of e!.stream as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.byteLength; at += 16 * 1024) {
          if (n >= 100_000) {
            if (mode === 'fail') throw new Error('disk read error');
            return;
          }
          const piece = chunk.subarray(at, at + 16 * 1024);
          n += piece.byteLength;
          yield piece;
        }
      }
    }
    // A stream only: no in-memory bytes that would let the reader skip the broken stream.
    return { size: e.size, stream: Readable.from(broken(), { objectMode: false, highWaterMark: 16 * 1024 }) };
  }
}

test('a Read whose store stream fails or ends early after data was sent ends non-OK, never OK with truncated data', async () => {
  const store = new BrokenReadStore();
  const bh = await startHarness({ readChunkSize: 16 * 1024 }, store);
  try {
    const data = blob(1024 * 1024, 14);
    await store.put(casKey(sha256(data)), data, { size: data.byteLength });
    for (const [mode, name, code] of [
      ['fail', readName(data), status.INTERNAL],
      ['end', readName(data), status.DATA_LOSS],
      ['end', `compressed-blobs/zstd/${sha256(data)}/${data.byteLength}`, status.DATA_LOSS],
    ] as const) {
      store.mode = mode;
      let got = 0;
      const outcome = await new Promise<number>((resolve) => {
        const call = (bh.bs as unknown as Record<string, (req: unknown) => Readable>)['Read']!.call(bh.bs, {
          resourceName: name,
        });
        call.on('data', (m: { data: Uint8Array }) => (got += m.data.byteLength));
        call.on('error', (e: ServiceError) => resolve(e.code));
        call.on('end', () => resolve(status.OK));
      });
      assert.ok(got > 0, `${mode} ${name}: data was sent before the error`);
      assert.equal(outcome, code, `${mode} ${name}`);
    }
  } finally {
    await bh.close();
  }
});

test('a Write of a digest mismatch is INVALID_ARGUMENT and publishes nothing', async () => {
  const data = blob(40_000, 5);
  const wrong = `uploads/${randomUUID()}/blobs/${sha256(blob(40_000, 6))}/40000`;
  assert.equal(await codeOf(writeMessages(h.bs, chunks(wrong, data))), status.INVALID_ARGUMENT);
  assert.deepEqual(await h.store.has([casKey(sha256(blob(40_000, 6))), casKey(sha256(data))]), [false, false]);
});

test('wrong sizes, offsets and names in a Write are refused precisely', async () => {
  const data = blob(40_000, 7);
  const name = uploadName(data);
  // More bytes than declared.
  const longer = Buffer.concat([data, Buffer.from('x')]);
  assert.equal(await codeOf(writeMessages(h.bs, chunks(name, longer))), status.INVALID_ARGUMENT);
  // Fewer bytes than declared, finished.
  assert.equal(await codeOf(writeMessages(h.bs, chunks(name, data.subarray(0, 1000)))), status.INVALID_ARGUMENT);
  // A gap in offsets.
  const msgs = [...chunks(name, data)];
  msgs[1] = { ...msgs[1]!, writeOffset: msgs[1]!.writeOffset + 1 };
  assert.equal(await codeOf(writeMessages(h.bs, msgs)), status.INVALID_ARGUMENT);
  // Negative first offset.
  assert.equal(
    await codeOf(writeMessages(h.bs, [{ resourceName: name, writeOffset: -1, data, finishWrite: true }])),
    status.OUT_OF_RANGE,
  );
  // A fresh upload starting past 0.
  assert.equal(await codeOf(writeMessages(h.bs, chunks(name, data, { offset: 100 }))), status.INVALID_ARGUMENT);
  // Read-style or malformed names, a changed name mid-stream, no messages at all.
  assert.equal(await codeOf(writeMessages(h.bs, chunks(`blobs/${sha256(data)}/40000`, data))), status.INVALID_ARGUMENT);
  assert.equal(
    await codeOf(writeMessages(h.bs, chunks(`uploads/x/blobs/${sha256(data)}/-4`, data))),
    status.INVALID_ARGUMENT,
  );
  const renamed = [...chunks(name, data)];
  renamed[1] = { ...renamed[1]!, resourceName: uploadName(blob(10, 1)) };
  assert.equal(await codeOf(writeMessages(h.bs, renamed)), status.INVALID_ARGUMENT);
  assert.equal(await codeOf(writeMessages(h.bs, [])), status.INVALID_ARGUMENT);
  assert.deepEqual(await h.store.has([casKey(sha256(data))]), [false]);
});

test('a Write that ends without finish_write is ABORTED and publishes nothing (rule 3)', async () => {
  const data = blob(50_000, 8);
  const name = uploadName(data);
  const err = await writeMessages(h.bs, chunks(name, data, { finish: false })).catch(
    (e: { code: number; details: string }) => e,
  );
  assert.equal((err as { code: number }).code, status.ABORTED);
  assert.match((err as { details: string }).details, /finish_write/);
  assert.deepEqual(await h.store.has([casKey(sha256(data))]), [false]);
});

test('a Write of a present blob ends at once with the full size, even with more to send', async () => {
  const data = blob(200_000, 9);
  await writeMessages(h.bs, chunks(uploadName(data), data));
  // Only the first message is sent and the stream is left open: the server answers anyway.
  const { call, result } = openWrite(h.bs);
  call.write(chunks(uploadName(data), data).next().value);
  assert.equal(await result, 200_000);
  call.cancel();
  // The same hash with another size is a wrong digest, not a present blob.
  const wrong = `uploads/${randomUUID()}/blobs/${sha256(data)}/199999`;
  assert.equal(await codeOf(writeMessages(h.bs, chunks(wrong, data.subarray(0, 199_999)))), status.INVALID_ARGUMENT);
  assert.equal(await codeOf(unary(h.bs, 'QueryWriteStatus', { resourceName: wrong })), status.INVALID_ARGUMENT);
});

test('a Write whose blob another upload completes mid-stream ends early with the full size', async () => {
  const data = blob(400_000, 10);
  const a = openWrite(h.bs);
  const b = openWrite(h.bs);
  const msgsA = [...chunks(uploadName(data), data)];
  const msgsB = [...chunks(uploadName(data), data)];
  for (const m of msgsA.slice(0, 5)) a.call.write(m);
  await new Promise((r) => setTimeout(r, 30));
  // B starts while A is still streaming, sends two messages and then stalls.
  b.call.write(msgsB[0]);
  b.call.write(msgsB[1]);
  await new Promise((r) => setTimeout(r, 30));
  for (const m of msgsA.slice(5)) a.call.write(m);
  a.call.end();
  assert.equal(await a.result, 400_000);
  assert.equal(await b.result, 400_000);
  b.call.cancel();
  assert.ok((await readAll(h.bs, `blobs/${sha256(data)}/400000`)).equals(data));
});

test('QueryWriteStatus: {0,false} for a fresh upload, {size,true} for a present blob, INVALID_ARGUMENT for a bad name', async () => {
  const data = blob(3000, 11);
  const name = uploadName(data);
  const fresh = await unary<{ committedSize: unknown; complete: boolean }>(h.bs, 'QueryWriteStatus', {
    resourceName: name,
  });
  assert.deepEqual([Number(fresh.committedSize), fresh.complete], [0, false]);
  await writeMessages(h.bs, chunks(name, data));
  const done = await unary<{ committedSize: unknown; complete: boolean }>(h.bs, 'QueryWriteStatus', {
    resourceName: name,
  });
  assert.deepEqual([Number(done.committedSize), done.complete], [3000, true]);
  assert.equal(
    await codeOf(unary(h.bs, 'QueryWriteStatus', { resourceName: 'uploads/x/blobs/zz/1' })),
    status.INVALID_ARGUMENT,
  );
});

test('an oversized message is RESOURCE_EXHAUSTED and the server keeps serving', async () => {
  const data = blob(9 * 1024 * 1024, 12);
  const code = await codeOf(
    writeMessages(h.bs, [{ resourceName: uploadName(data), writeOffset: 0, data, finishWrite: true }]),
  );
  assert.equal(code, status.RESOURCE_EXHAUSTED);
  const small = blob(100, 13);
  assert.equal(await writeMessages(h.bs, chunks(uploadName(small), small)), 100);
});

test('bytes that are not the request message are INVALID_ARGUMENT on every RPC kind, not INTERNAL', async () => {
  const raw = new Client(h.server.address, credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  const junk = Buffer.from([0x12, 0x50, 1]); // field 2, length 80, then one byte: truncated
  const unaryCode = (path: string): Promise<number> =>
    new Promise((resolve) =>
      raw.makeUnaryRequest(path, id, id, junk, (err: ServiceError | null) => resolve(err?.code ?? 0)),
    );
  try {
    for (const path of [
      '/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs',
      '/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchUpdateBlobs',
      '/build.bazel.remote.execution.v2.ActionCache/UpdateActionResult',
      '/google.bytestream.ByteStream/QueryWriteStatus',
    ]) {
      assert.equal(await unaryCode(path), status.INVALID_ARGUMENT, path);
    }
    const readCode = await new Promise<number>((resolve) => {
      const s = raw.makeServerStreamRequest('/google.bytestream.ByteStream/Read', id, id, junk);
      s.on('data', () => undefined);
      s.on('error', (e: ServiceError) => resolve(e.code));
    });
    assert.equal(readCode, status.INVALID_ARGUMENT);
    const writeCode = await new Promise<number>((resolve) => {
      const s = raw.makeClientStreamRequest('/google.bytestream.ByteStream/Write', id, id, (e: ServiceError | null) =>
        resolve(e?.code ?? 0),
      );
      s.write(junk);
      s.end();
    });
    assert.equal(writeCode, status.INVALID_ARGUMENT);
  } finally {
    raw.close();
  }
});
