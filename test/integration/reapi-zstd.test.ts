// zstd over ByteStream (compressed-blobs/zstd) and in Batch* entries: round trips, offsets
// in compressed bytes, verification against the uncompressed digest, and decompression
// bounded by the declared size (a bomb is refused without inflating it).
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';
import { casKey } from '../../src/core/keys.ts';
import {
  blob,
  chunks,
  codeOf,
  type Harness,
  readAll,
  readName,
  sha256,
  startHarness,
  unary,
  writeMessages,
} from './reapi-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

/** Compressible test data: a repeated random block. */
function compressible(size: number, seed: number): Buffer {
  const block = blob(4096, seed);
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += 4096) block.copy(out, at);
  return out;
}

const zname = (d: Buffer, size = d.byteLength): string =>
  `uploads/${randomUUID()}/compressed-blobs/zstd/${sha256(d)}/${size}`;

test('compressed Write: offsets count compressed bytes, committed_size is the compressed total, reads round-trip', async () => {
  const data = compressible(1_000_000, 31);
  const z = zlib.zstdCompressSync(data);
  assert.ok(z.byteLength < 100_000);
  // chunks() numbers offsets by position in the payload sent, i.e. compressed bytes.
  assert.equal(await writeMessages(h.bs, chunks(zname(data), z, { chunk: 4096 })), z.byteLength);
  assert.ok((await readAll(h.bs, readName(data))).equals(data));
  const back = await readAll(h.bs, `compressed-blobs/zstd/${sha256(data)}/${data.byteLength}`);
  assert.ok(zlib.zstdDecompressSync(back).equals(data));
  // read_offset of a compressed read is in uncompressed bytes.
  const tail = await readAll(h.bs, `compressed-blobs/zstd/${sha256(data)}/${data.byteLength}`, 999_000);
  assert.ok(zlib.zstdDecompressSync(tail).equals(data.subarray(999_000)));
  // A compressed Write of a present blob ends early with -1.
  assert.equal(await writeMessages(h.bs, chunks(zname(data), z)), -1);
});

test('compressed data that does not match the uncompressed digest is INVALID_ARGUMENT and not published', async () => {
  const data = compressible(200_000, 32);
  const other = compressible(200_000, 33);
  assert.equal(
    await codeOf(writeMessages(h.bs, chunks(zname(data), zlib.zstdCompressSync(other)))),
    status.INVALID_ARGUMENT,
  );
  // Declared size larger than the content (truncated), and garbage that is not zstd.
  assert.equal(
    await codeOf(writeMessages(h.bs, chunks(zname(data, 300_000), zlib.zstdCompressSync(data)))),
    status.INVALID_ARGUMENT,
  );
  assert.equal(
    await codeOf(writeMessages(h.bs, chunks(zname(data), Buffer.from('definitely not zstd')))),
    status.INVALID_ARGUMENT,
  );
  assert.deepEqual(await h.store.has([casKey(sha256(data)), casKey(sha256(other))]), [false, false]);
});

test('a decompression bomb is cut at the declared size, without inflating it', async () => {
  const bomb = zlib.zstdCompressSync(Buffer.alloc(256 * 1024 * 1024));
  assert.ok(bomb.byteLength < 16 * 1024, `bomb is ${bomb.byteLength} bytes`);
  const before = process.memoryUsage().rss;
  const started = performance.now();
  // It claims to be a small blob: refused as soon as output passes 1,000 bytes.
  const err = await writeMessages(h.bs, chunks(zname(blob(1000, 1)), bomb)).catch(
    (e: { code: number; details: string }) => e,
  );
  assert.equal((err as { code: number }).code, status.INVALID_ARGUMENT);
  assert.match((err as { details: string }).details, /more than the 1000 bytes/);
  // Same through BatchUpdateBlobs.
  const res = await unary<{ responses: { status: { code: number } }[] }>(h.cas, 'BatchUpdateBlobs', {
    requests: [{ digest: { hash: sha256(blob(1000, 1)), sizeBytes: 1000 }, data: bomb, compressor: 1 }],
  });
  assert.equal(res.responses[0]!.status.code, status.INVALID_ARGUMENT);
  const grown = process.memoryUsage().rss - before;
  assert.ok(grown < 64 * 1024 * 1024, `rss grew by ${grown} bytes`);
  assert.ok(performance.now() - started < 2000);
  assert.deepEqual(await h.store.has([casKey(sha256(blob(1000, 1)))]), [false]);
});

test('BatchUpdateBlobs takes zstd entries; BatchReadBlobs compresses only when the client accepts it', async () => {
  const a = compressible(50_000, 34);
  const b = blob(100, 35);
  const up = await unary<{ responses: { status: { code: number } }[] }>(h.cas, 'BatchUpdateBlobs', {
    requests: [
      { digest: { hash: sha256(a), sizeBytes: a.byteLength }, data: zlib.zstdCompressSync(a), compressor: 1 },
      { digest: { hash: sha256(b), sizeBytes: 100 }, data: b, compressor: 0 },
      { digest: { hash: sha256(b), sizeBytes: 100 }, data: b, compressor: 3 },
    ],
  });
  assert.deepEqual(
    up.responses.map((r) => r.status.code),
    [status.OK, status.OK, status.INVALID_ARGUMENT],
  );
  const digests = [
    { hash: sha256(a), sizeBytes: a.byteLength },
    { hash: sha256(b), sizeBytes: 100 },
  ];
  type ReadRes = { responses: { data: Uint8Array; compressor: number; status: { code: number } }[] };
  const z = await unary<ReadRes>(h.cas, 'BatchReadBlobs', { digests, acceptableCompressors: [1] });
  assert.equal(z.responses[0]!.compressor, 1);
  assert.ok(zlib.zstdDecompressSync(z.responses[0]!.data).equals(a));
  assert.equal(z.responses[1]!.compressor, 0, 'tiny blobs go uncompressed');
  const plain = await unary<ReadRes>(h.cas, 'BatchReadBlobs', { digests });
  assert.deepEqual(
    plain.responses.map((r) => r.compressor),
    [0, 0],
  );
  assert.ok(Buffer.from(plain.responses[0]!.data).equals(a));
});
