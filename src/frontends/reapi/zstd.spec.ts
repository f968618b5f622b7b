import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { isHoardError } from '../../core/errors.ts';
import { compressBytes, decompressBounded, decompressStream } from './zstd.ts';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of source) out.push(c);
  return Buffer.concat(out);
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.byteLength; at += size) yield data.subarray(at, at + size);
}

test('round trips, whole and streamed in small pieces', async () => {
  const data = Buffer.from('hoard '.repeat(20_000));
  const z = compressBytes(data, 1);
  assert.ok(decompressBounded(z, data.byteLength).equals(data));
  assert.ok((await collect(decompressStream(pieces(z, 7), data.byteLength))).equals(data));
  assert.equal(decompressBounded(compressBytes(Buffer.alloc(0), 1), 0).byteLength, 0);
});

test('output past the declared size fails at once; short output and garbage fail too', async () => {
  const bomb = zlib.zstdCompressSync(Buffer.alloc(64 * 1024 * 1024));
  assert.throws(
    () => decompressBounded(bomb, 100),
    (e) => isHoardError(e, 'size_mismatch'),
  );
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const c of decompressStream(pieces(bomb, 1024), 100_000)) seen += c.byteLength;
    })(),
    (e) => isHoardError(e, 'size_mismatch'),
  );
  assert.ok(seen <= 100_000, `yielded ${seen} bytes before failing`);
  const z = compressBytes(Buffer.alloc(1000, 1), 1);
  assert.throws(
    () => decompressBounded(z, 2000),
    (e) => isHoardError(e, 'size_mismatch'),
  );
  await assert.rejects(collect(decompressStream(pieces(z, 10), 2000)), (e) => isHoardError(e, 'size_mismatch'));
  assert.throws(
    () => decompressBounded(Buffer.from('not zstd at all'), 10),
    (e) => isHoardError(e, 'invalid_argument'),
  );
  await assert.rejects(collect(decompressStream(pieces(Buffer.from('not zstd at all'), 4), 10)), (e) =>
    isHoardError(e, 'invalid_argument'),
  );
});
