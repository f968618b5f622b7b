import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHoardError } from '../../core/errors.ts';
import { protoType, REAPI } from '../../core/proto.ts';
import {
  decodeFindMissingRequest,
  encodeFindMissingResponse,
  encodeGetTreeResponse,
  encodeReadResponseParts,
} from './fast-codecs.ts';

const Req = protoType(`${REAPI}.FindMissingBlobsRequest`);
const Res = protoType(`${REAPI}.FindMissingBlobsResponse`);
const digest = fc.record({
  hash: fc.oneof(fc.stringMatching(/^[0-9a-f]{0,64}$/), fc.string({ maxLength: 70 })),
  sizeBytes: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
});

test('agrees with protobufjs on FindMissingBlobs requests and replies', () => {
  fc.assert(
    fc.property(
      fc.string(),
      fc.array(digest, { maxLength: 50 }),
      fc.nat({ max: 10 }),
      (instanceName, generated, digestFunction) => {
        const blobDigests = generated.map((d) => ({ hash: d.hash, sizeBytes: d.sizeBytes }));
        const bytes = Buffer.from(Req.encode({ instanceName, blobDigests, digestFunction }).finish());
        const decoded = decodeFindMissingRequest(bytes);
        assert.equal(decoded.instanceName, instanceName);
        assert.equal(decoded.digestFunction, digestFunction);
        const plain = (d: { hash: string; sizeBytes: unknown }) => ({ hash: d.hash, sizeBytes: Number(d.sizeBytes) });
        // A valid hash is ASCII, where latin1 and UTF-8 agree; others must at least not pass as hex.
        decoded.blobDigests.forEach((d, i) => {
          const hex = /^[0-9a-f]*$/.test(blobDigests[i]!.hash);
          assert.equal(d.lowerHex, hex, JSON.stringify(blobDigests[i]!.hash));
          if (hex) assert.deepEqual(plain(d), blobDigests[i]);
        });
        assert.equal(decoded.blobDigests.length, blobDigests.length);
        // Ours omits default fields (size 0) where protobufjs writes them: compare decoded.
        // Both encodings: from plain objects, and echoing the decoded request's own bytes.
        for (const missingBlobDigests of [blobDigests, decoded.blobDigests]) {
          const ours = Res.decode(encodeFindMissingResponse({ missingBlobDigests })) as unknown as {
            missingBlobDigests: { hash: string; sizeBytes: unknown }[];
          };
          assert.deepEqual(ours.missingBlobDigests.map(plain), blobDigests);
        }
      },
    ),
  );
});

test('skips unknown fields and refuses truncated input', () => {
  // field 9 (varint 5), then instance_name "ab": unknown fields must be ignored.
  assert.equal(decodeFindMissingRequest(Buffer.from([0x48, 0x05, 0x0a, 0x02, 0x61, 0x62])).instanceName, 'ab');
  const good = Buffer.from(Req.encode({ blobDigests: [{ hash: 'a'.repeat(64), sizeBytes: 3 }] }).finish());
  for (const cut of [1, 5, good.byteLength - 1]) {
    assert.throws(
      () => decodeFindMissingRequest(good.subarray(0, cut)),
      (e) => isHoardError(e, 'invalid_argument'),
    );
  }
  // A negative int64 size decodes to a number checkDigest will refuse, never throws here.
  const neg = Buffer.from(Req.encode({ blobDigests: [{ hash: 'a', sizeBytes: -1 }] }).finish());
  assert.ok(decodeFindMissingRequest(neg).blobDigests[0]!.sizeBytes > Number.MAX_SAFE_INTEGER);
});

test('ReadResponse encodes exactly as protobufjs does', () => {
  const ReadResponse = protoType('google.bytestream.ReadResponse');
  for (const size of [0, 1, 127, 128, 16_383, 16_384, 300_000]) {
    const data = Buffer.alloc(size, 7);
    assert.ok(
      Buffer.concat(encodeReadResponseParts({ data })).equals(Buffer.from(ReadResponse.encode({ data }).finish())),
      `size ${size}`,
    );
  }
});

test('GetTreeResponse with canonical Directory bytes encodes exactly as protobufjs does', () => {
  const Directory = protoType(`${REAPI}.Directory`);
  const GetTreeResponse = protoType(`${REAPI}.GetTreeResponse`);
  const name = fc.string({ maxLength: 200 });
  fc.assert(
    fc.property(
      fc.array(fc.array(name, { maxLength: 30 }), { maxLength: 20 }),
      fc.oneof(fc.constant(''), fc.string()),
      (dirs, nextPageToken) => {
        const directories = dirs.map((names) => ({
          files: names.map((n) => ({ name: n, digest: { hash: 'ab', sizeBytes: n.length } })),
        }));
        const stored = directories.map((d) => Directory.encode(d).finish());
        const ours = encodeGetTreeResponse({ directories: stored, nextPageToken });
        assert.ok(ours.equals(Buffer.from(GetTreeResponse.encode({ directories, nextPageToken }).finish())));
      },
    ),
  );
});

test('a 64-digit hash decodes to its bytes on the fast path and the general one alike', () => {
  const sha = fc.stringMatching(/^[0-9a-f]{64}$/);
  fc.assert(
    fc.property(sha, fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.boolean(), (hash, sizeBytes, extraField) => {
      let bytes = Buffer.from(Req.encode({ blobDigests: [{ hash, sizeBytes }] }).finish());
      if (extraField) {
        // The same Digest with an unknown field 7 (varint 1) after size_bytes: not the fast shape.
        const inner = Buffer.concat([bytes.subarray(2), Buffer.from([0x38, 0x01])]);
        bytes = Buffer.concat([Buffer.from([0x12, inner.length]), inner]);
      }
      const d = decodeFindMissingRequest(bytes).blobDigests[0]!;
      assert.equal(d.hash, hash);
      assert.equal(d.sizeBytes, sizeBytes);
      assert.equal(d.lowerHex, true);
      assert.deepEqual(d.bytes, Buffer.from(hash, 'hex'));
    }),
  );
  const upper = Buffer.from(Req.encode({ blobDigests: [{ hash: 'A'.repeat(64), sizeBytes: 3 }] }).finish());
  const d = decodeFindMissingRequest(upper).blobDigests[0]!;
  assert.equal(d.lowerHex, false);
  assert.equal(d.bytes, undefined);
});
