import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHoardError } from '../../core/errors.ts';
import { protoType } from '../../core/proto.ts';
import { decodeWriteRequest } from './write-request-codec.ts';
import { cut } from '../../../test/helpers/cut.ts';

const Write = protoType('google.bytestream.WriteRequest');

test('agrees with protobufjs on WriteRequests however the message is cut into chunks', () => {
  const offset = fc.oneof(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.integer({ min: -5, max: 5 }));
  fc.assert(
    fc.property(
      fc.string(),
      offset,
      fc.boolean(),
      fc.uint8Array({ maxLength: 400 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (resourceName, writeOffset, finishWrite, data, points) => {
        // A buffer of its own (not a slice of Node's shared pool), so a view is told from a copy.
        const encoded = Write.encode({ resourceName, writeOffset, finishWrite, data }).finish();
        const bytes = Buffer.alloc(encoded.length);
        bytes.set(encoded);
        const decoded = decodeWriteRequest(cut(bytes, points));
        assert.equal(decoded.resourceName, resourceName);
        assert.equal(decoded.writeOffset, writeOffset);
        assert.equal(decoded.finishWrite, finishWrite);
        assert.deepEqual(Buffer.concat(decoded.data), Buffer.from(data));
        assert.ok(
          decoded.data.every((p) => bytes.buffer === p.buffer),
          'data parts are views of the received bytes',
        );
      },
    ),
  );
});

test('unknown fields are skipped; a truncated message or a group is INVALID_ARGUMENT', () => {
  // field 7 varint, field 8 fixed64, field 9 bytes, field 11 fixed32 around the known fields
  const known = Buffer.from(Write.encode({ resourceName: 'r', writeOffset: 3, data: Buffer.from('xyz') }).finish());
  const unknown = Buffer.from([0x38, 0x96, 0x01, 0x41, 1, 2, 3, 4, 5, 6, 7, 8, 0x4a, 2, 0xaa, 0xbb, 0x5d, 1, 2, 3, 4]);
  const d = decodeWriteRequest([unknown, known]);
  assert.deepEqual([d.resourceName, d.writeOffset, Buffer.concat(d.data).toString()], ['r', 3, 'xyz']);
  const invalid = (e: unknown) =>
    isHoardError(e, 'invalid_argument') && /malformed WriteRequest/.test((e as Error).message);
  assert.throws(() => decodeWriteRequest([known.subarray(0, known.length - 1)]), invalid);
  assert.throws(() => decodeWriteRequest([Buffer.from([0x0b])]), invalid); // start group
  assert.throws(
    () => decodeWriteRequest([Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]),
    invalid,
  );
});
