import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHoardError } from '../../core/errors.ts';
import { parseReadResourceName, parseResourceName, parseWriteResourceName } from './resource-name.ts';

const H = 'a'.repeat(64);
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('read names: empty, single and multi-segment instances, compressed, explicit sha256', () => {
  assert.deepEqual(parseReadResourceName(`blobs/${H}/12`), {
    kind: 'read',
    instanceName: '',
    uuid: undefined,
    compression: 'identity',
    digestFunction: 'sha256',
    digest: { hash: H, sizeBytes: 12 },
  });
  assert.equal(parseReadResourceName(`main/blobs/${H}/12`).instanceName, 'main');
  assert.equal(parseReadResourceName(`a/b/c/blobs/${H}/12`).instanceName, 'a/b/c');
  const z = parseReadResourceName(`x/y/compressed-blobs/zstd/${H}/7`);
  assert.equal(z.compression, 'zstd');
  assert.equal(z.instanceName, 'x/y');
  assert.equal(parseReadResourceName(`blobs/sha256/${H}/3`).digest.sizeBytes, 3);
  assert.equal(parseReadResourceName(`blobs/${EMPTY}/0`).digest.sizeBytes, 0);
});

test('write names: uuid, compressed, trailing metadata ignored, multi-segment instance', () => {
  const w = parseWriteResourceName(`i/j/uploads/0f1e-uuid/blobs/${H}/99/some/meta`);
  assert.equal(w.kind, 'write');
  assert.equal(w.uuid, '0f1e-uuid');
  assert.equal(w.instanceName, 'i/j');
  assert.deepEqual(w.digest, { hash: H, sizeBytes: 99 });
  const z = parseWriteResourceName(`uploads/u/compressed-blobs/zstd/${H}/5`);
  assert.equal(z.compression, 'zstd');
  assert.equal(z.instanceName, '');
});

test('the instance name ends at the first reserved segment', () => {
  // "blobs" after "uploads/<uuid>" belongs to the upload form, not to the instance.
  assert.equal(parseResourceName(`inst/uploads/u/blobs/${H}/1`).instanceName, 'inst');
});

function rejects(name: string, code: 'invalid_argument' | 'unsupported', pattern?: RegExp): void {
  assert.throws(
    () => parseResourceName(name),
    (err: unknown) => {
      assert.ok(isHoardError(err, code), `${name}: expected ${code}, got ${String(err)}`);
      if (pattern) assert.match((err as Error).message, pattern);
      return true;
    },
  );
}

test('malformed names are InvalidArgument with a message naming the fault', () => {
  rejects('', 'invalid_argument', /empty/);
  rejects(`foo/${H}/1`, 'invalid_argument', /no "blobs"/);
  rejects(`/blobs/${H}/1`, 'invalid_argument', /empty segment/);
  rejects(`a//blobs/${H}/1`, 'invalid_argument', /empty segment/);
  rejects(`blobs/${H}`, 'invalid_argument', /hash}\/{size/);
  rejects(`blobs/${H}/-1`, 'invalid_argument', /size/);
  rejects(`blobs/${H}/01`, 'invalid_argument', /size/);
  rejects(`blobs/${H}/1x`, 'invalid_argument', /size/);
  rejects(`blobs/${H}/99999999999999999999`, 'invalid_argument', /size/);
  rejects(`blobs/${H.toUpperCase()}/1`, 'invalid_argument', /hash/);
  rejects(`blobs/abc/1`, 'invalid_argument', /hash/);
  rejects(`blobs/${H}/0`, 'invalid_argument', /empty blob/);
  rejects(`blobs/${H}/1/extra`, 'invalid_argument', /after the size/);
  rejects(`uploads/blobs/${H}/1`, 'invalid_argument', /upload id/);
  rejects(`uploads/u/${H}/1`, 'invalid_argument', /expected "blobs"/);
  rejects(`actionResults/${H}/1`, 'invalid_argument', /expected "blobs"/);
  rejects(`compressed-blobs/${H}/1`, 'invalid_argument', /compressor/);
  rejects(`compressed-blobs/identity/${H}/1`, 'invalid_argument', /compressor/);
  assert.throws(() => parseReadResourceName(`uploads/u/blobs/${H}/1`), /not an upload name/);
  assert.throws(() => parseWriteResourceName(`blobs/${H}/1`), /uploads/);
});

test('known but unsupported digest functions and compressors are named', () => {
  rejects(`blobs/blake3/${H}/1`, 'unsupported', /BLAKE3/);
  rejects(`blobs/sha256tree/${H}/1`, 'unsupported', /SHA256TREE/);
  rejects(`blobs/gitsha1/${'a'.repeat(40)}/1`, 'unsupported', /GITSHA1/);
  rejects(`blobs/${'b'.repeat(40)}/1`, 'unsupported', /SHA1/);
  rejects(`blobs/${'c'.repeat(128)}/1`, 'unsupported', /SHA512/);
  rejects(`compressed-blobs/deflate/${H}/1`, 'unsupported', /deflate/);
});
